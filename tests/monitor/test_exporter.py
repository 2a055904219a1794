"""The aiinfra exporter on fixture trees and recorded NVML: goldens, behaviour, promtool, docs."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, load_recording

from aiinfra.monitor.exporter.exporter import Exporter, available
from aiinfra.monitor.exporter.metrics import CATALOGUE

GOLDEN_MACHINE = "hgx-4hdr-faults"
_VOLATILE = re.compile(r"^((?:aiinfra_collector_duration_seconds|aiinfra_node_check_age_seconds)\S*) \S+$", re.M)


def stable(text: str) -> str:
    """The exposition with timing values zeroed, so it can be compared with a golden."""
    return _VOLATILE.sub(r"\1 0.0", text)


def wait_for_xids(exp: Exporter, n: int) -> None:
    watcher = next(c for c in exp.collectors if c.name == "gpu_xid").watcher  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while sum(watcher.snapshot()[0].values()) < n and time.monotonic() < deadline:
        time.sleep(0.02)


def samples(text: str, name: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for m in re.finditer(rf"^{name}(\{{.*\}})? (\S+)$", text, re.M)}


@pytest.mark.parametrize("collector", sorted(available()))
def test_collector_golden(collector: str, make_exporter, golden) -> None:
    exp = make_exporter(GOLDEN_MACHINE, enabled=frozenset({collector}))
    if collector == "gpu_xid":
        wait_for_xids(exp, 3)
    golden(f"exporter/{collector}.prom", stable(exp.exposition()))


def test_h200_recording_golden(make_exporter, golden) -> None:
    """The real H200 recording: NVLink absent (one GPU, no links), ECC from NVML, l1/l2 not asked."""
    gpu = frozenset(n for n in available() if n.startswith("gpu_"))
    exp = make_exporter("hgx-8ndr", nvml=load_recording("h200x1-health-recorded.json"), enabled=gpu)
    text = exp.exposition()
    assert (
        samples(text, "aiinfra_gpu_ecc_memory_errors_total")[
            '{counter_type="aggregate",error_type="corrected",gpu="0",location="sram"}'
        ]
        == 4
    )
    golden("exporter/h200x1-recorded.prom", stable(text))


def test_h200x2_recording_golden(make_exporter, golden) -> None:
    """The real 2x H200 recording: 18 NVLinks up per GPU and the links' real CRC/ECC counters."""
    gpu = frozenset(n for n in available() if n.startswith("gpu_"))
    exp = make_exporter("hgx-8ndr", nvml=load_recording("h200x2-health-recorded.json"), enabled=gpu)
    text = exp.exposition()
    up = samples(text, "aiinfra_gpu_nvlink_up")
    assert len(up) == 36 and set(up.values()) == {1}
    errors = samples(text, "aiinfra_gpu_nvlink_errors_total")
    assert errors['{error="crc_data",gpu="0",link="0"}'] == 19
    golden("exporter/h200x2-recorded.prom", stable(text))


def test_faults_are_reported(make_exporter) -> None:
    exp = make_exporter(GOLDEN_MACHINE)
    wait_for_xids(exp, 3)
    text = exp.exposition()
    downshift = samples(text, "aiinfra_infiniband_port_downshift")
    assert downshift['{device="mlx5_4",port="1",rail="rail2"}'] == 1
    assert sum(downshift.values()) == 1  # mlx5_3 is down, not downshifted
    assert samples(text, "aiinfra_infiniband_port_active")['{device="mlx5_3",port="1"}'] == 0
    assert samples(text, "aiinfra_bond_slave_aggregator_mismatch") == {
        '{bond="bond0",slave="ens1f0np0"}': 0,
        '{bond="bond0",slave="ens1f1np1"}': 1,
    }
    assert samples(text, "aiinfra_bond_slave_partner_mac_zero")['{bond="bond0",slave="ens1f1np1"}'] == 1
    assert samples(text, "aiinfra_gpu_xid_errors_total") == {'{gpu="0",xid="13"}': 1, '{gpu="3",xid="79"}': 2}
    assert samples(text, "aiinfra_gpu_row_remap_pending")['{gpu="2"}'] == 1
    assert samples(text, "aiinfra_gpu_row_remap_failure")['{gpu="5"}'] == 1
    assert samples(text, "aiinfra_gpu_pcie_link_downtrained") == {f'{{gpu="{i}"}}': int(i == 6) for i in range(8)}
    assert samples(text, "aiinfra_gpu_nvlink_up")['{gpu="4",link="3"}'] == 0
    checks = samples(text, "aiinfra_node_check_pass")
    assert checks['{check="rails",reason="port-down,rate-low"}'] == 0
    assert checks['{check="gpus",reason="nvlink-down"}'] == 0  # GPU4 link 3 of the faulty recording
    # GPU7's violation call fails: the collector says so, the other collectors are unaffected.
    success = samples(text, "aiinfra_collector_success")
    assert success['{collector="gpu_throttle"}'] == 0
    assert [k for k, v in success.items() if v == 0] == ['{collector="gpu_throttle"}']
    assert samples(text, "aiinfra_collector_errors_total") == {'{collector="gpu_throttle",reason="nvml"}': 8}


def test_healthy_machines_have_no_faults(make_exporter) -> None:
    for machine, rails in (("hgx-4hdr-bond", 4), ("hgx-8ndr", 8)):
        text = make_exporter(machine).exposition()
        assert set(samples(text, "aiinfra_infiniband_port_downshift").values()) == {0}
        assert len(samples(text, "aiinfra_infiniband_port_downshift")) == rails
        assert set(samples(text, "aiinfra_infiniband_rail_present").values()) == {1}
        assert set(samples(text, "aiinfra_bond_slave_aggregator_mismatch").values()) == {0}
        assert set(samples(text, "aiinfra_collector_success").values()) == {1}, machine
        assert set(samples(text, "aiinfra_node_check_pass").values()) == {1}, machine


def test_hopper_nvlink_errors_come_from_field_values(make_exporter) -> None:
    text = make_exporter("hgx-8ndr", enabled=frozenset({"gpu_nvlink"})).exposition()
    errors = samples(text, "aiinfra_gpu_nvlink_errors_total")
    assert len(errors) == 8 * 18 * 3 and '{error="symbol",gpu="0",link="17"}' in errors
    unavailable = samples(text, "aiinfra_gpu_field_unavailable")
    assert '{collector="gpu_nvlink",field="nvlink_error.replay",gpu="0",reason="not_supported"}' in unavailable


def test_disabled_collector_and_missing_roots(make_exporter, tmp_path: Path) -> None:
    text = make_exporter("hgx-8ndr", disabled=frozenset({"bonding"})).exposition()
    assert "aiinfra_bond_" not in text and "aiinfra_infiniband_port_info" in text
    with pytest.raises(ValueError, match="unknown collector"):
        make_exporter("hgx-8ndr", enabled=frozenset({"nope"}))


def test_promtool_check_metrics(make_exporter, monitor_tool) -> None:
    promtool = monitor_tool("promtool")
    for machine in ("hgx-4hdr-faults", "hgx-8ndr"):
        text = make_exporter(machine).exposition()
        res = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        assert res.returncode == 0 and not res.stdout.strip(), res.stdout + res.stderr


def test_node_exporter_covers_what_we_leave_out(trees, monitor_tool) -> None:
    """Our hw_counters collector skips exactly what node_exporter exports: one source per signal."""
    from aiinfra.monitor.exporter.collectors.hw_counters import NODE_EXPORTER_HW_COUNTERS

    node_exporter = monitor_tool("node_exporter")
    root = trees["hgx-4hdr-faults"]
    port = 19100 + (hash(str(root)) % 500)
    proc = subprocess.Popen(
        [node_exporter, f"--web.listen-address=127.0.0.1:{port}", f"--path.sysfs={root / 'sys'}",
         f"--path.procfs={root / 'proc'}", "--collector.disable-defaults", "--collector.infiniband",
         "--collector.bonding"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        text = _get(f"http://127.0.0.1:{port}/metrics")
    finally:
        proc.terminate()
        proc.wait(10)
    assert 'node_infiniband_rnr_nak_retry_packets_received_total{device="mlx5_2",port="1"}' in text
    assert 'node_bonding_active{master="bond0"} 2' in text  # MII only: the LACP fault is invisible there
    assert "retries_exceeded" not in text
    assert len(NODE_EXPORTER_HW_COUNTERS) == 30  # 29 counters + lifespan


def _get(url: str) -> str:
    import urllib.request

    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_every_metric_is_documented() -> None:
    available()
    for doc in ("docs/monitoring-metrics.md", "docs/monitoring.md", "docs/zh/monitoring.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        missing = [name for name in CATALOGUE if f"`{name}`" not in text]
        assert not missing, f"{doc} lacks {missing}"


def test_cli_once_and_bad_input(trees) -> None:
    root = trees["hgx-8ndr"]
    base = [
        sys.executable,
        "-m",
        "aiinfra.cli.exporter",
        f"--path.sysfs={root / 'sys'}",
        f"--path.procfs={root / 'proc'}",
    ]
    ok = subprocess.run(
        [*base, "--cluster", "clusters/h100-ndr.yaml", "--once",
         "--nvml-recording", "tests/fixtures/nvml/h100-8gpu.json"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert 'aiinfra_infiniband_port_info{device="mlx5_7"' in ok.stdout
    bad = subprocess.run([*base, "--path.sysfs=/nonexistent", "--once"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "not a directory" in bad.stderr and "Traceback" not in bad.stderr


def test_fast_exposition_equals_prometheus_client(make_exporter) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from aiinfra.monitor.exporter.exporter import render_text

    exp = make_exporter(GOLDEN_MACHINE)
    wait_for_xids(exp, 3)
    families = list(exp.collect())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(type("Static", (), {"collect": lambda self: iter(families), "describe": lambda self: []})())
    assert render_text(families) == generate_latest(registry).decode()
    assert 'aiinfra_bond_info{bond="bond0",lacp_rate="fast",mode="IEEE' in render_text(families)
