"""Alert rules: golden files, promtool check and unit tests (each alert fires and stays quiet), runbooks."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from monitor_tools import tool

from aiinfra.definition import load_definition
from aiinfra.monitor.rules import Severity, Thresholds, alert_rules
from aiinfra.monitor.rules.render import RULES_FILE, dump, prometheus_rule, promtool_tests, rules_file
from aiinfra.monitor.rules.runbooks import alert_table, runbook

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = "monitor/alerts"
DEFINITION = load_definition(ROOT / "clusters" / "a800-ib.yaml")
ALERTS = alert_rules(DEFINITION)


def _seconds(duration: str) -> int:
    return sum(int(n) * {"s": 1, "m": 60, "h": 3600}[u] for n, u in re.findall(r"(\d+)([smh])", duration))


def test_rules_and_tests_golden(golden) -> None:
    golden(f"{GOLDEN}/{RULES_FILE}", rules_file(ALERTS))
    golden(f"{GOLDEN}/prometheusrule.yaml", dump(prometheus_rule(ALERTS, "aiinfra-a800-ib", "monitoring")))
    for name, text in promtool_tests(ALERTS).items():
        golden(f"{GOLDEN}/{name}", text)


def test_promtool_check_and_unit_tests() -> None:
    promtool = tool("promtool")
    folder = ROOT / "tests" / "golden" / GOLDEN
    check = subprocess.run([promtool, "check", "rules", str(folder / RULES_FILE)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"{len(ALERTS)} rules found" in check.stdout
    tests = sorted(str(p) for p in folder.glob("test-*.yaml"))
    run = subprocess.run([promtool, "test", "rules", *tests], capture_output=True, text=True, cwd=folder)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_promtool_catches_a_broken_rule(tmp_path: Path) -> None:
    """The unit tests can fail: a rule whose threshold is off by one no longer passes its fire case."""
    promtool = tool("promtool")
    broken = [a for a in ALERTS if a.name == "IbPortDown"]
    text = rules_file(broken).replace("!= 4", "!= 1").replace("!= 5", "!= 3")
    (tmp_path / RULES_FILE).write_text(text)
    (tmp_path / "t.yaml").write_text(promtool_tests(broken)["test-infiniband.yaml"])
    run = subprocess.run([promtool, "test", "rules", "t.yaml"], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode != 0 and "IbPortDown fires" in run.stdout + run.stderr


def test_coverage_and_shape() -> None:
    names = {a.name for a in ALERTS}
    assert len(ALERTS) >= 35
    for must in (
        "GpuXidFatal",
        "GpuXidApplication",
        "GpuMissing",
        "GpuRowRemapPending",
        "GpuRowRemapFailed",
        "GpuDoubleBitEcc",
        "GpuThermalSlowdown",
        "GpuPowerBrakeSlowdown",
        "GpuPcieReplays",
        "GpuPcieDowntrained",
        "GpuNvlinkErrors",
        "IbPortDown",
        "IbRateDegraded",
        "IbSymbolErrorsHigh",
        "IbLinkDowned",
        "RdmaRetriesExhausted",
        "IbCongestion",
        "BondMemberDown",
        "BondMemberWrongAggregator",
        "BondLacpChurn",
        "DcgmExporterStale",
        "AiinfraExporterDown",
        "RayClusterNotProvisioned",
        "RayWorkerRestarts",
        "RayHeadUnreachable",
        "FabricTestNcclOnSockets",
        "FabricTestRailBelowTarget",
    ):
        assert must in names
    for a in ALERTS:
        assert a.severity in Severity
        assert a.fires.alerts, f"{a.name}: the fire case expects no alert"
        assert not a.quiet.alerts
        named = re.findall(r"\$labels\.(\w+)", a.summary)
        assert {"node", "pod", "ray_cluster", "name", "job"} & set(named), f"{a.name}: summary names nothing affected"
        for labels in a.fires.alerts:
            assert set(named) <= set(labels), f"{a.name}: summary uses labels its alert lacks"


def test_link_down_and_fatal_xid_fire_within_30s() -> None:
    """Worst case = one scrape interval + one evaluation interval + the hold time."""
    t = Thresholds()
    by_name = {a.name: a for a in ALERTS}
    for name in ("IbPortDown", "GpuXidFatal", "IbLinkDowned", "GpuMissing", "BondDown"):
        worst = _seconds(t.scrape_interval) + _seconds(t.evaluation_interval) + _seconds(by_name[name].for_)
        assert worst <= 30, f"{name}: {worst}s"


def test_rules_follow_the_definition() -> None:
    h100 = alert_rules(load_definition(ROOT / "clusters" / "h100-ndr.yaml"))
    rate = next(a for a in h100 if a.name == "IbRateDegraded")
    assert "mlx5_7" in rate.expr and f"< {400e9 / 8:.0f}" in rate.expr
    no_bond = DEFINITION.model_copy(update={"network": DEFINITION.network.model_copy(update={"management_bond": None})})
    assert not [a for a in alert_rules(no_bond) if a.subsystem == "bond"]
    local = alert_rules(load_definition(ROOT / "clusters" / "local.yaml"))
    assert not [a for a in local if a.subsystem in ("gpu", "infiniband")]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_runbooks_and_alert_docs_fresh(lang: str) -> None:
    docs = ROOT / "docs" / ("zh" if lang == "zh" else "")
    update = os.environ.get("UPDATE_GOLDEN") == "1"
    expected = {f"{a.name}.md": runbook(a, lang) for a in ALERTS}  # type: ignore[arg-type]
    folder = docs / "runbooks"
    if update:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in set(p.name for p in folder.glob("*.md")) - set(expected):
            (folder / stale).unlink()
        for name, text in expected.items():
            (folder / name).write_text(text, encoding="utf-8")
    assert sorted(p.name for p in folder.glob("*.md")) == sorted(expected)
    for name, text in expected.items():
        assert (folder / name).read_text(encoding="utf-8") == text, f"{folder / name} is stale; run make golden"
    page = (docs / "alerts.md").read_text(encoding="utf-8")
    table = alert_table(ALERTS, lang)  # type: ignore[arg-type]
    begin, end = "<!-- alerts:begin -->\n", "<!-- alerts:end -->"
    start, stop = page.index(begin) + len(begin), page.index(end)
    current = page[start:stop]
    if update and current != table:
        (docs / "alerts.md").write_text(page[:start] + table + page[stop:], encoding="utf-8")
        current = table
    assert current == table, f"{docs / 'alerts.md'}: alert table is stale; run make golden"


def test_every_alert_has_a_chinese_meaning_with_the_same_numbers() -> None:
    """docs/zh/runbooks carry no English meaning, and a changed threshold cannot leave the Chinese text stale."""
    from aiinfra.monitor.rules.runbooks_zh import DESCRIPTIONS_ZH

    alerts = alert_rules(DEFINITION)
    assert sorted(DESCRIPTIONS_ZH) == sorted(a.name for a in alerts)
    for a in alerts:
        numbers = re.findall(r"\d+(?:\.\d+)?", a.description)
        assert sorted(re.findall(r"\d+(?:\.\d+)?", DESCRIPTIONS_ZH[a.name])) == sorted(numbers), a.name
