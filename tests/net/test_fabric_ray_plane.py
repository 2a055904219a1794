"""Level 3 of the fabric test on a real local Ray cluster: a head without GPUs and three nodes with one logical
GPU each (``ray.cluster_utils.Cluster``; Ray counts logical GPUs without hardware), gloo between the actors over
this machine's own address. No definition: every rail shares each node's Ray address, measured as one rail.

No slow node is injected here: these Ray nodes share this machine's one network stack, so nothing can slow
one node's traffic alone without faking its readings; ``tests/net/test_fabric_ray_netns.py`` runs the Ray
nodes in network namespaces, where a slow node is a real tc rate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

from aiinfra.contract import K8S_NODE_LABEL
from aiinfra.definition import load_definition
from aiinfra.errors import UsageError
from aiinfra.nccl.node_env import prepare_worker_env
from aiinfra.net.fabric.localise import LocaliseConfig, localise
from aiinfra.net.fabric.ray_plane import SHARED_RAIL, RayDataPlane, select_rails

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[2]
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


def test_rails_by_interface_with_the_environment_training_gets(plane: RayDataPlane, cluster: Cluster) -> None:
    """Two rails whose interface every node has (loopback): measured per rail, each bound to it."""
    d = load_definition(ROOT / "clusters" / "a800-ib.yaml")
    d = d.model_copy(update={"rails": [r.model_copy(update={"netdev": "lo"}) for r in d.rails[:2]]})
    with RayDataPlane.start(cluster.address, d) as lo:
        assert lo.rails == ["rail0", "rail1"] and lo.interfaces == ["lo", "lo"]
        assert not any("not per rail" in n for n in lo.notes)
        out = lo.measure([("gpu-a", "gpu-c")])
        assert len(out[("gpu-a", "gpu-c")]) == 2 and min(out[("gpu-a", "gpu-c")]) > 0
        # Each actor ran the one preparation training and the benchmark share (same machine: same answer).
        assert lo.envs == {n: prepare_worker_env({}, d, {}) for n in NODES} and lo.envs["gpu-a"]
    assert plane.envs == {n: {} for n in NODES}  # no definition: nothing to prepare


def test_rails_share_one_interface_when_a_node_lacks_a_rails() -> None:
    d = load_definition(ROOT / "clusters" / "a800-ib.yaml")
    every = {"lo", "ibp26s0", "ibp60s0", "ibp156s0", "ibp188s0"}
    rails, interfaces, notes = select_rails(d, [every, every - {"ibp60s0"}])
    assert rails == [SHARED_RAIL] and interfaces == [None]
    assert "interface (rail1:ibp60s0);" in notes[0] and "not per rail" in notes[0]
    assert select_rails(d, [{"ibp26s0", "ibp60s0", "ibp156s0", "ibp188s0"}] * 2)[:2] == (
        ["rail0", "rail1", "rail2", "rail3"], ["ibp26s0", "ibp60s0", "ibp156s0", "ibp188s0"])


def test_nccl_per_rail_is_refused_with_a_reason() -> None:
    with pytest.raises(UsageError, match=r"NCCL per rail .* is aiinfra\.net\.fabric\.nccl_plane\.NcclRailPlane"):
        RayDataPlane.start("auto", backend="nccl")
