"""Levels 1 and 2 of the fabric test without a cluster: the checks on hand-made snapshots, the node-check Job
(golden), reading a pod's result, the report's levels, and the CLI's bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aiinfra.definition import load_definition
from aiinfra.findings import Finding
from aiinfra.k8s.raycluster import to_yaml
from aiinfra.net.fabric.control_plane import (
    ControlPlane,
    Workload,
    control_plane_findings,
    healthy_snapshot,
)
from aiinfra.net.fabric.node_check_job import job_name, node_check_job
from aiinfra.net.fabric.node_level import KWOK_NOT_RUN, NodeLevel, parse_result
from aiinfra.net.fabric.report import FabricReport

ROOT = Path(__file__).resolve().parents[2]


def _codes(d: object, snap: ControlPlane) -> list[tuple[str, str]]:
    return [(f.code, f.device) for f in control_plane_findings(d, snap)]  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["a800-ib", "h100-ndr", "roce"])
def test_a_healthy_snapshot_passes_and_each_break_is_named(name: str) -> None:
    d = load_definition(ROOT / "clusters" / f"{name}.yaml")
    nodes = ["n0", "n1", "n2"]
    assert control_plane_findings(d, healthy_snapshot(d, nodes)) == []

    snap = healthy_snapshot(d, nodes)
    snap.nodes["n1"].allocatable["nvidia.com/gpu"] = "7"
    assert _codes(d, snap) == [("gpus-missing", "n1")]

    snap = healthy_snapshot(d, nodes)
    network = [k for k in snap.objects if k[0].endswith("Network")][-1]
    snap.objects[network] = {"state": "error", "reason": "master not found"}
    found = control_plane_findings(d, snap)
    kind, ns, obj = network
    where = f"{kind} {ns}/{obj}" if ns else f"{kind} {obj}"
    assert [(f.code, f.device) for f in found] == [("not-ready", where)]
    assert "master not found" in found[0].message


def test_missing_operator_crd_policy_and_nodes() -> None:
    d = load_definition(ROOT / "clusters" / "a800-ib.yaml")
    snap = healthy_snapshot(d, ["n0"])
    snap.workloads = [Workload("DaemonSet", d.operators.network_namespace, "rdma-shared-dp-ds", 4, 3)]
    assert _codes(d, snap) == [("operator-unavailable", f"{d.operators.network_namespace}/rdma-shared-dp-ds")]

    snap = healthy_snapshot(d, ["n0"])
    snap.workloads = []
    snap.unserved = {"IPPool"}
    codes = _codes(d, snap)
    assert codes[0] == ("operator-absent", d.operators.network_namespace)
    assert [c for c, _ in codes[1:]] == ["crd-missing"] * len(d.rails)

    snap = healthy_snapshot(d, ["n0"])
    del snap.objects[("NicClusterPolicy", "", "nic-cluster-policy")]
    assert _codes(d, snap) == [("object-missing", "NicClusterPolicy nic-cluster-policy")]
    snap = healthy_snapshot(d, ["n0"])
    snap.objects[("NicClusterPolicy", "", "nic-cluster-policy")] = {}  # the operator never wrote a state
    assert _codes(d, snap) == [("not-ready", "NicClusterPolicy nic-cluster-policy")]

    snap = healthy_snapshot(d, [])
    assert _codes(d, snap) == [("no-gpu-nodes", "nvidia.com/gpu.product=NVIDIA-A800-SXM4-80GB")]


def test_node_check_job_is_least_privilege(golden: object) -> None:
    d = load_definition(ROOT / "clusters" / "a800-ib.yaml")
    job = node_check_job(d, "gpu-017", "fabric-test", "r1")
    golden("net/fabric-node-check-job.yaml", to_yaml(job))  # type: ignore[operator]
    pod = job["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and pod["securityContext"]["runAsNonRoot"] is True
    c = pod["containers"][0]
    assert c["securityContext"]["readOnlyRootFilesystem"] and c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert all(m["readOnly"] for m in c["volumeMounts"])
    assert sorted(v["hostPath"]["path"] for v in pod["volumes"]) == ["/proc", "/sys"]
    assert "hostNetwork" not in pod and "hostPID" not in pod and "nvidia.com/gpu" not in str(c["resources"])
    assert len(job_name("abcdef", "x" * 300)) == 63


def test_parse_result_and_not_checked_nodes() -> None:
    doc = {"ok": True, "findings": [], "node": {}}
    assert parse_result("gpu-1", json.dumps(doc, indent=2)) == []
    level = NodeLevel({"gpu-1": []}, {f"kwok-{i}": KWOK_NOT_RUN for i in range(64)} | {"gpu-2": "no result"})
    found = level.all_findings()
    assert [(f.code, f.severity, f.device) for f in found] == [
        ("node-not-checked", "info", "64 KWOK node(s)"), ("node-not-checked", "warning", "gpu-2")]
    assert "kwok-0, kwok-1, kwok-10 .. kwok-9" in found[0].message


def test_report_of_levels_1_and_2_without_a_data_plane() -> None:
    node = [Finding("rate-low", "error", "gpu-1:mlx5_4:1", "rate 100 Gb/s", "reseat the cable")]
    report = FabricReport(node, {"control plane": [], "node": node})
    assert report.exit_code == 1
    assert "control plane: ok" in report.table() and "node: 1 finding(s)" in report.table()
    assert 'aiinfra_fabric_test_node_check_failed{node="gpu-1",check="rate-low"} 1' in report.metrics()
    page = report.html()
    assert "heatmap" not in page and "reseat the cable" in page
    assert json.loads(report.to_json())["levels"]["node"][0]["device"] == "gpu-1:mlx5_4:1"


def _net_test(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aiinfra", "net", "test", *args], capture_output=True, text=True,
                          cwd=ROOT, check=False)


def test_cli_bad_input_exits_2() -> None:
    run = _net_test()
    assert run.returncode == 2 and "nothing to test" in run.stderr
    run = _net_test("--simulate", "8", "--levels", "1,4")
    assert run.returncode == 2 and "--levels '1,4'" in run.stderr
    run = _net_test("--simulate", "8", "--taint")
    assert run.returncode == 2 and "--cluster" in run.stderr
    run = _net_test("--cluster", "clusters/nope.yaml", "--levels", "1")
    assert run.returncode == 2 and "nope.yaml" in run.stderr and "Traceback" not in run.stderr
    run = _net_test("--ray", "auto", "--levels", "1,3", "--simulate", "8")
    assert run.returncode == 2 and "--ray runs level 2" in run.stderr
    run = _net_test("--ray", "auto", "--levels", "3", "--cluster", "clusters/a800-ib.yaml")  # no TCP rate given
    assert run.returncode == 2 and "--line-gbps RATE" in run.stderr and "Traceback" not in run.stderr
    run = _net_test("--ray", "auto", "--levels", "3", "--line-gbps", "-5")
    assert run.returncode == 2 and "--line-gbps -5.0: a positive rate" in run.stderr
    run = _net_test("--simulate")  # no count and no cluster whose nodes to simulate
    assert run.returncode == 2 and "--simulate needs 2 or more nodes" in run.stderr


def test_marks_from_every_level() -> None:
    from aiinfra.net.fabric.localise import Fault
    from aiinfra.net.fabric.marks import Marks, mark_value

    marks = Marks()
    marks.add_findings(2, {"gpu-1": [Finding("rate-low", "error", "gpu-1:mlx5_4:1", "100 Gb/s", "reseat")],
                           "gpu-2": [Finding("gpus-unknown", "info", "gpu-2:nvml", "no NVML", "-")]})
    faults = [Fault("node", "gpu-3"), Fault("rail", "gpu-1", "rail5"), Fault("rail", "gpu-1", "rail2"),
              Fault("link", "gpu-2", "rail0", "gpu-4")]
    marks.add_faults(faults, ["gpu-1", "gpu-2", "gpu-3", "gpu-4", "gpu-5"], "simulated data plane", ["gpu-5"])
    assert marks.tokens == {"gpu-1": ["rate-low", "slow-rail-rail2-rail5"], "gpu-3": ["slow-node"]}
    assert marks.details["gpu-1"] == ["level 2: rate-low mlx5_4:1",
                                      "level 3: slow rails rail2, rail5 (simulated data plane)"]
    assert marks.good() == ["gpu-2", "gpu-4"]  # a bad link marks neither end; undecided gpu-5 keeps its mark
    value = mark_value(["slow-rail-" + "-".join(f"rail{r}" for r in range(8)), "port-down", "rate-low"])
    assert len(value) <= 63 and value.startswith("port-down.rate-low.slow-rail-rail0")
