"""The monitoring stack: values against the real chart, selectors that really select, Alertmanager routes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from monitor_tools import tool

from aiinfra.contract import TEXTFILE_DIR
from aiinfra.definition import load_definition
from aiinfra.monitor.exporter_deploy import HOST_ROOT
from aiinfra.monitor.rules import alert_rules
from aiinfra.monitor.rules.render import dump
from aiinfra.monitor.stack import MonitorOptions, monitoring_objects, stack_values
from aiinfra.monitor.stack.alertmanager import alertmanager_config
from aiinfra.monitor.stack.selection import merge, unselected
from aiinfra.monitor.stack.values import unknown_keys

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = load_definition(ROOT / "clusters" / "a800-ib.yaml")
OPTS = MonitorOptions(registry="registry.example.com", pull_secret="regcred")
CHART = "kube-prometheus-stack-88.5.3/charts/kube-prometheus-stack"


def _chart_defaults() -> dict[str, Any]:
    mirror = os.environ.get("AIINFRA_UPSTREAM_MIRROR")
    if not mirror:
        pytest.skip("AIINFRA_UPSTREAM_MIRROR is unset (CI sets it to ../shared/vendor)")
    base = Path(mirror) / CHART
    values = yaml.safe_load((base / "values.yaml").read_text())
    for sub in ("grafana", "prometheus-node-exporter", "kube-state-metrics"):
        values[sub] = merge(yaml.safe_load((base / "charts" / sub / "values.yaml").read_text()), values.get(sub) or {})
    return values


def test_golden(golden) -> None:
    golden("monitor/stack/kube-prometheus-stack-values.yaml", dump(stack_values(OPTS, DEFINITION)))
    objects = monitoring_objects(DEFINITION, OPTS)
    for o in objects:  # Ray's generated dashboards are checked fresh by test_monitor_dashboards
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("aiinfra-dashboard-ray-"):
            o["data"] = {k: f"<json/ray/{k}, {len(v)} characters>" for k, v in o["data"].items()}
    golden(
        "monitor/stack/monitoring-objects.yaml",
        yaml.safe_dump_all(objects, sort_keys=False, allow_unicode=True, width=120),
    )


def test_values_keys_exist_in_the_chart() -> None:
    assert unknown_keys(stack_values(OPTS, DEFINITION), _chart_defaults()) == []


def test_node_exporter_keeps_the_charts_args_and_the_reports_node_label() -> None:
    """Our extraArgs replace the chart's list whole: every flag of the chart's stays. The textfile collector
    reads the host's TEXTFILE_DIR through the chart's host-root mount (tests/test_monitor_e2e.py scrapes the
    fabric test's report through it, with the rendered metric relabelings)."""
    chart = _chart_defaults()["prometheus-node-exporter"]
    ours = stack_values(OPTS, DEFINITION)["prometheus-node-exporter"]
    assert {a.split("=")[0] for a in chart["extraArgs"]} <= {a.split("=")[0] for a in ours["extraArgs"]}
    deployed = merge(chart, ours)
    assert deployed["hostRootFsMount"]["enabled"] and deployed["prometheus"]["monitor"]["metricRelabelings"]
    assert f"--collector.textfile.directory={HOST_ROOT}{TEXTFILE_DIR}" in deployed["extraArgs"]


def test_unknown_key_is_reported() -> None:
    bad = merge(stack_values(OPTS, DEFINITION), {"prometheus": {"prometheusSpec": {"ruleSelectorNilUsesHelm": False}}})
    assert unknown_keys(bad, _chart_defaults()) == ["prometheus.prometheusSpec.ruleSelectorNilUsesHelm"]


def test_prometheus_selects_our_objects() -> None:
    defaults = _chart_defaults()
    objects = monitoring_objects(DEFINITION, OPTS)
    assert unselected(merge(defaults, stack_values(OPTS, DEFINITION)), objects, OPTS.release) == []
    # The pitfall this guards: with the chart's defaults, nothing of ours is picked up.
    missed = unselected(defaults, objects, OPTS.release)
    assert "PrometheusRule/aiinfra-a800-ib" in missed and "PodMonitor/aiinfra-ray" in missed


def test_dashboards_are_sidecar_configmaps() -> None:
    maps = [o for o in monitoring_objects(DEFINITION, OPTS) if o["kind"] == "ConfigMap"]
    assert len(maps) == 8  # ours and Ray's default, data and train dashboards
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"


def _route(config: Path, amtool: str, **labels: str) -> str:
    args = [amtool, "config", "routes", "test", f"--config.file={config}", *(f"{k}={v}" for k, v in labels.items())]
    run = subprocess.run(args, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout.strip()


def test_alertmanager_routes_by_severity(tmp_path: Path) -> None:
    amtool = tool("amtool")
    config = tmp_path / "alertmanager.yaml"
    config.write_text(dump(alertmanager_config({"page": "http://pager.example/hook"})))
    check = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert _route(config, amtool, alertname="IbPortDown", severity="critical", node="gpu-1") == "page"
    assert _route(config, amtool, alertname="BondMemberDown", severity="warning", node="gpu-1") == "ticket"
    assert _route(config, amtool, alertname="GpuXidApplication", severity="info", pod="p") == "job-owner"
    assert _route(config, amtool, alertname="Watchdog", severity="none") == "null"
    for a in alert_rules(DEFINITION):
        want = {"critical": "page", "warning": "ticket", "info": "job-owner"}[a.severity.value]
        assert _route(config, amtool, alertname=a.name, **a.rule_labels()) == want, a.name


def test_node_down_inhibits_that_nodes_port_and_gpu_alerts() -> None:
    """Inhibition as Alertmanager applies it: source matchers, target matchers, equal labels."""
    rules = alertmanager_config()["inhibit_rules"]

    def inhibited(target: dict[str, str], source: dict[str, str]) -> bool:
        return any(
            _match(r["source_matchers"], source)
            and _match(r["target_matchers"], target)
            and all(source.get(k) == target.get(k) for k in r["equal"])
            for r in rules
        )

    by = {a.name: {"alertname": a.name, **a.rule_labels()} for a in alert_rules(DEFINITION)}
    down = {**by["NodeDown"], "node": "gpu-1"}
    for name in ("IbPortDown", "GpuXidFatal", "BondMemberDown", "AiinfraExporterDown"):
        assert inhibited({**by[name], "node": "gpu-1", "device": "mlx5_2", "port": "1"}, down), name
        assert not inhibited({**by[name], "node": "gpu-2"}, down), name
    port = {**by["IbPortDown"], "node": "gpu-1", "device": "mlx5_2", "port": "1"}
    assert inhibited({**by["IbRateDegraded"], "node": "gpu-1", "device": "mlx5_2", "port": "1"}, port)
    assert not inhibited({**by["IbRateDegraded"], "node": "gpu-1", "device": "mlx5_3", "port": "1"}, port)


def _match(matchers: list[str], labels: dict[str, str]) -> bool:
    import re

    for m in matchers:
        key, op, value = re.fullmatch(r'(\w+)(=~|!=|=)"(.*)"', m).groups()  # type: ignore[union-attr]
        have = labels.get(key, "")
        ok = {"=": have == value, "!=": have != value, "=~": re.fullmatch(value, have) is not None}[op]
        if not ok:
            return False
    return True
