"""Level 3 of the fabric test on a real local Ray cluster: a head without GPUs and three nodes with one logical
GPU each (``ray.cluster_utils.Cluster``; Ray counts logical GPUs without hardware), gloo between the actors over
this machine's own address. No definition: every rail shares each node's Ray address, measured as one rail.

No slow node is injected: the three Ray nodes share this machine's one network stack and CPUs, so nothing here
can slow one node's traffic alone without faking its readings (the namespace plane,
``tests/net/test_fabric_netns.py``, is where faults are real tc rates).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

from aiinfra.contract import K8S_NODE_LABEL
from aiinfra.net.fabric.localise import LocaliseConfig, localise
from aiinfra.net.fabric.ray_plane import SHARED_RAIL, RayDataPlane

pytestmark = pytest.mark.ray

MB = 1024 * 1024
NODES = ["gpu-a", "gpu-b", "gpu-c"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0, "object_store_memory": 80 * MB})
    try:
        for name in NODES:
            c.add_node(num_cpus=1, num_gpus=1, object_store_memory=80 * MB, labels={K8S_NODE_LABEL: name})
        c.wait_for_nodes()
        yield c
    finally:
        c.shutdown()


@pytest.fixture(scope="module")
def plane(cluster: Cluster) -> Iterator[RayDataPlane]:
    with RayDataPlane.start(cluster.address) as p:
        yield p
    assert not ray.is_initialized()  # it connected, so it disconnected


def test_one_actor_per_gpu_node_one_shared_rail(plane: RayDataPlane) -> None:
    assert sorted(plane.names) == NODES  # the head has no GPU: not measured
    assert plane.rails == [SHARED_RAIL] and plane.interfaces == [None]
    assert any("not per rail" in n for n in plane.notes)


def test_a_round_gives_positive_busbw_for_every_pair(plane: RayDataPlane) -> None:
    pairs = [("gpu-a", "gpu-b"), ("gpu-b", "gpu-c"), ("gpu-c", "gpu-a")]  # gpu-b is in two pairs at once
    out = plane.measure(pairs)
    assert sorted(out) == sorted(pairs)
    assert all(len(v) == 1 and v[0] > 0 for v in out.values()), out


def test_localise_on_a_healthy_plane_finds_nothing(plane: RayDataPlane) -> None:
    floor = 1e-4  # 100 kB/s: far below what gloo moves over this machine's own address
    loc = localise(plane.names, plane.rails, plane.measure, LocaliseConfig(floor, screen_rounds=len(NODES) - 1))
    assert loc.faults == [] and loc.unresolved == []
    assert loc.rounds and all(min(v) > floor for r in loc.rounds for v in r.busbw)


def test_cli_level_3_on_ray_passes(plane: RayDataPlane, cluster: Cluster, tmp_path: Path) -> None:
    from aiinfra.cli import main

    out = tmp_path / "fabric.json"
    assert main(["net", "test", "--levels", "3", "--ray", cluster.address, "--line-gbps", "0.001",
                 "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["levels"]["data plane"] == []
