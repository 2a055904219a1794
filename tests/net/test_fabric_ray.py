"""Level 2 of the fabric test as Ray tasks, on a real local Ray cluster of a head and two GPU nodes.

The two GPU nodes (8 logical GPUs each) read different trees through ``AIINFRA_SYSFS_ROOT`` in their Ray
processes' environment: one the healthy A800 node, one the recorded degraded A800 node (mlx5_3 down,
mlx5_4 at half rate). The head has no GPU and is not checked. Then one node's raylet is stopped (SIGSTOP,
a hung node): its task never runs, and it is reported not checked, never passed.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

from aiinfra.contract import K8S_NODE_LABEL
from aiinfra.definition import load_definition
from aiinfra.net.fabric.node_level_ray import SYSFS_ROOT_ENV, run_node_checks_ray

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "clusters" / "a800-ib.yaml"
TREES = {"gpu-healthy": "a800-ib", "gpu-degraded": "a800-ib-degraded"}
MB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Cluster, dict[str, int]]]:
    # A stopped raylet must stay "alive" to the GCS for the whole test: it is a hung node, not a dead one.
    head = {"num_cpus": 1, "num_gpus": 0, "object_store_memory": 80 * MB,
            "_system_config": {"health_check_failure_threshold": 1000}}
    c = Cluster(initialize_head=True, head_node_args=head)
    raylets: dict[str, int] = {}
    try:
        for name, tree in TREES.items():
            node = c.add_node(num_cpus=1, num_gpus=8, object_store_memory=80 * MB, labels={K8S_NODE_LABEL: name},
                              env_vars={SYSFS_ROOT_ENV: str(ROOT / "tests" / "fixtures" / "sysfs" / tree)})
            raylets[name] = node.all_processes["raylet"][0].process.pid
        ray.init(address=c.address, logging_level="WARNING", log_to_driver=False)
        c.wait_for_nodes()
        yield c, raylets
    finally:
        for pid in raylets.values():
            os.kill(pid, signal.SIGCONT)  # a stopped raylet would keep the shutdown waiting
        ray.shutdown()
        c.shutdown()


def _errors(result: object, node: str) -> list[tuple[str, str]]:
    return [(f.code, f.device) for f in result.findings[node] if f.severity == "error"]  # type: ignore[attr-defined]


def test_one_result_per_gpu_node_with_its_own_findings(cluster: tuple[Cluster, dict[str, int]]) -> None:
    result = run_node_checks_ray(load_definition(DEFINITION), timeout=180)
    assert result.not_checked == {}
    assert sorted(result.findings) == ["gpu-degraded", "gpu-healthy"]  # the head has no GPU: not a GPU node
    assert _errors(result, "gpu-healthy") == []
    assert _errors(result, "gpu-degraded") == [("port-down", "gpu-degraded:mlx5_3:1"),
                                               ("rate-low", "gpu-degraded:mlx5_4:1")]


def test_cli_level_2_on_ray_reports_like_the_jobs(cluster: tuple[Cluster, dict[str, int]], tmp_path: Path) -> None:
    from aiinfra.cli import main

    out, metrics = tmp_path / "fabric.json", tmp_path / "fabric.prom"
    code = main(["net", "test", "--ray", cluster[0].address, "--cluster", str(DEFINITION), "--levels", "2",
                 "--json", str(out), "--metrics", str(metrics)])
    assert code == 1
    doc = json.loads(out.read_text())
    assert [(f["code"], f["device"]) for f in doc["levels"]["node"] if f["severity"] == "error"] == [
        ("port-down", "gpu-degraded:mlx5_3:1"), ("rate-low", "gpu-degraded:mlx5_4:1")]
    assert 'aiinfra_fabric_test_node_check_failed{node="gpu-degraded",check="port-down"} 1' in metrics.read_text()


def test_a_node_whose_task_cannot_run_is_not_checked(cluster: tuple[Cluster, dict[str, int]]) -> None:
    _, raylets = cluster
    os.kill(raylets["gpu-degraded"], signal.SIGSTOP)
    try:
        result = run_node_checks_ray(load_definition(DEFINITION), timeout=20)
    finally:
        os.kill(raylets["gpu-degraded"], signal.SIGCONT)
    assert list(result.findings) == ["gpu-healthy"] and _errors(result, "gpu-healthy") == []
    assert list(result.not_checked) == ["gpu-degraded"]
    assert "no result within 20s" in result.not_checked["gpu-degraded"]
    found = [(f.code, f.severity, f.device) for f in result.all_findings()]
    assert ("node-not-checked", "warning", "gpu-degraded") in found  # reported, and never as passed
