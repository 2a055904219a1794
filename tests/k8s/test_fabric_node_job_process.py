"""Level 2 for real: the node-check Job runs on a process-backed simulator node, whose /sys and /proc are a
recorded degraded A800 node; its one JSON result comes back through the pod log, and --taint marks the node.

Its own small simulator (no KWOK nodes, one process node), so the shared ones are left alone.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiinfra.contract import FABRIC_FAILED_KEY
from aiinfra.definition import load_definition
from aiinfra.k8s.client import Kube
from aiinfra.net.fabric.node_level import run_node_checks

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "clusters" / "a800-ib.yaml"
DEGRADED = ROOT / "tests" / "fixtures" / "sysfs" / "a800-ib-degraded"


@pytest.fixture(scope="module")
def process_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    from aiinfra.sim.tools import missing_tools

    if missing_tools():
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"CI: simulated cluster tools not built ({', '.join(missing_tools())})", pytrace=False)
        pytest.skip("simulated cluster tools not built; run 'make k8s-tools'")
    if os.geteuid() != 0:
        pytest.skip("process-backed nodes need root (network and mount namespaces)")
    from aiinfra import sim

    state = tmp_path_factory.mktemp("fabric-sim")
    try:
        cluster = sim.up(DEFINITION, nodes=0, process_nodes=1, state_dir=state)
        node = Kube(kubeconfig=cluster.kubeconfig).core.list_node().items[0].metadata.name
        # The agent serves a node's /sys and /proc from state/nodes/<node> (sim up wrote a healthy one there,
        # from the definition): a recorded degraded node replaces it before any pod starts.
        shutil.rmtree(state / "nodes" / node)
        shutil.copytree(DEGRADED, state / "nodes" / node, symlinks=True)
        yield cluster, node
    finally:
        sim.down(state)


def test_the_job_reports_the_degraded_node(process_sim: tuple[Any, str]) -> None:
    cluster, node = process_sim
    result = run_node_checks(Kube(kubeconfig=cluster.kubeconfig), load_definition(DEFINITION), "default", 120)
    assert result.not_checked == {}
    errors = [(f.code, f.device) for f in result.findings[node] if f.severity == "error"]
    assert errors == [("port-down", f"{node}:mlx5_3:1"), ("rate-low", f"{node}:mlx5_4:1")]


def test_cli_level_2_taints_the_bad_node(process_sim: tuple[Any, str], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from aiinfra.cli import main

    cluster, node = process_sim
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    out = tmp_path / "fabric.json"
    assert main(["net", "test", "--cluster", str(DEFINITION), "--levels", "2", "--taint", "--json", str(out)]) == 1
    doc = json.loads(out.read_text())
    assert [f["code"] for f in doc["levels"]["node"] if f["severity"] == "error"] == ["port-down", "rate-low"]
    taints = Kube(kubeconfig=cluster.kubeconfig).core.read_node(node).spec.taints
    assert [(t.key, t.value, t.effect) for t in taints] == [(FABRIC_FAILED_KEY, "port-down.rate-low", "NoSchedule")]
    # The check pods tolerate the mark, so a second run still checks (and still finds) the node.
    assert main(["net", "test", "--cluster", str(DEFINITION), "--levels", "2", "--taint"]) == 1
