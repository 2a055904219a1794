"""Level 3 through the bench's workers per rail (:mod:`aiinfra.net.fabric.nccl_plane`) on a real local Ray cluster.

Three GPUs per node are logical (Ray counts them without hardware), so the plane runs here with gloo instead of
NCCL: the rail actors (Ray's GPU accounting, the rail's GPU kept, the others killed), the pairs of a round, the
ports, the localisation and the NVLink step are the same code; NCCL itself and its transports run on the GPU
machine (benchmarks/results/h200x2-*-fabric-nccl*). The transport check reads NCCL logs recorded from real runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

from aiinfra.contract import K8S_NODE_LABEL
from aiinfra.definition import load_definition
from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import UsageError
from aiinfra.net.fabric.localise import LocaliseConfig, localise
from aiinfra.net.fabric.nccl_plane import NcclRailPlane, assign_rails, transport_findings
from aiinfra.net.fabric.nvlink_level import nvlink_level

ROOT = Path(__file__).resolve().parents[2]
NCCL_LOGS = ROOT / "tests/fixtures/nccl"
MB = 1024 * 1024
NODES = ["gpu-a", "gpu-b"]


def two_rails() -> ClusterDefinition:
    d = load_definition(ROOT / "clusters/a800-ib.yaml")
    return d.model_copy(update={"rails": d.rails[:2]})  # rail0 on GPU 0 (mlx5_2), rail1 on GPU 2 (mlx5_3)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0, "object_store_memory": 80 * MB})
    try:
        for name in NODES:
            c.add_node(num_cpus=3, num_gpus=3, object_store_memory=80 * MB, labels={K8S_NODE_LABEL: name})
        c.wait_for_nodes()
        ray.init(address=c.address, logging_level="WARNING", log_to_driver=False, include_dashboard=False)
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


@pytest.mark.ray
def test_rail_actors_sit_on_the_rails_gpus_and_a_healthy_plane_passes(cluster: Cluster) -> None:
    with NcclRailPlane.start(cluster.address, two_rails(), backend="gloo") as plane:
        assert plane.names == NODES and plane.rails == ["rail0", "rail1"]
        assert sorted(plane.actors) == [(0, 0), (0, 1), (1, 0), (1, 1)]  # the third GPU's actor was killed
        gpus = {k: ray.get(a.where.remote())["gpu"] for k, a in plane.actors.items()}
        assert gpus == {(0, 0): 0, (0, 1): 2, (1, 0): 0, (1, 1): 2}
        task = plane._task("gpu-a/gpu-b/1", 0, 1, "10.0.0.1", 1234)
        assert task.env["NCCL_IB_HCA"] == "=mlx5_3:1" and task.world == 2  # one HCA per rail, exactly
        out = plane.measure([("gpu-a", "gpu-b")])
        assert list(out) == [("gpu-a", "gpu-b")] and len(out["gpu-a", "gpu-b"]) == 2
        assert all(v > 0 for v in out["gpu-a", "gpu-b"])
        loc = localise(plane.names, plane.rails, plane.measure, LocaliseConfig(1e-4, screen_rounds=1))
        assert loc.faults == [] and loc.unresolved == []
        assert plane.findings() == []  # gloo writes no NCCL log to judge
    assert ray.is_initialized()  # the test's own connection is left alone


@pytest.mark.ray
def test_nvlink_step_judges_each_node_and_names_the_slow_ones(cluster: Cluster) -> None:
    healthy = nvlink_level(two_rails(), backend="gloo", expect_gb_s=1e-6, timeout_s=300)
    assert healthy.findings == [] and "2 node(s) measured" in healthy.notes[0]
    slow = nvlink_level(two_rails(), backend="gloo", expect_gb_s=1e6, timeout_s=300)  # no CPU moves 1 PB/s
    assert [f.code for f in slow.findings] == ["nvlink-slow", "nvlink-slow"]
    assert len({f.device for f in slow.findings}) == 2


def test_assign_rails_prefers_the_rails_gpu_and_says_when_it_cannot() -> None:
    rails = load_definition(ROOT / "clusters/a800-ib.yaml").rails  # first GPUs 0, 2, 4, 6
    assert assign_rails(rails, list(range(8))) == ([0, 2, 4, 6], [])
    chosen, notes = assign_rails(rails, [0, 1, 2, 3])
    assert chosen == [0, 2, 1, 3] and "rail2, rail3" in notes[0]
    with pytest.raises(UsageError, match="each rail needs a GPU"):
        assign_rails(rails, [0, 1, 2])


def test_transport_findings_from_real_nccl_logs() -> None:
    socket = (NCCL_LOGS / "socket-fallback-2node.log").read_text()
    assert {f.code for f in transport_findings("a:rail0", "mlx5_0", socket, True)} == {"nccl-socket-fallback"}
    gdr = (NCCL_LOGS / "ib-2node-gdr.log").read_text()  # 2 ranks per node, over mlx5_2 and mlx5_3, GDRDMA
    found = transport_findings("a:rail0", "mlx5_2", gdr, True)
    assert [(f.code, f.message) for f in found] == [("nccl-wrong-hca", "NCCL sent through mlx5_3:1, not mlx5_2")]
    no_gdr = (NCCL_LOGS / "roce-no-gdr-shm.log").read_text()
    codes = [f.code for f in transport_findings("a:rail0", "x", no_gdr, True)]
    assert "nccl-no-gdrdma" in codes
    assert "nccl-no-gdrdma" not in [f.code for f in transport_findings("a:rail0", "x", no_gdr, False)]


def test_cli_nccl_needs_ray_and_rails(capsys: pytest.CaptureFixture[str]) -> None:
    from aiinfra.cli import main

    assert main(["net", "test", "--simulate", "8", "--nccl"]) == 2
    assert "--nccl measures level 3 on a Ray cluster" in capsys.readouterr().err
    assert main(["net", "test", "--ray", "auto", "--levels", "3", "--nccl"]) == 2
    assert "give --cluster FILE" in capsys.readouterr().err
