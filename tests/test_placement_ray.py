"""place() on a real local multi-node Ray cluster with fake GPU counts and leaf labels.

Four Ray nodes of 8 logical GPUs (a CPU box may advertise GPUs as a logical
resource), three under leaf 'a' and one under leaf 'b', each with 4 rails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import ray
from ray.cluster_utils import Cluster
from ray.util.placement_group import placement_group, placement_group_table, remove_placement_group

from aiinfra.errors import AiinfraError, LaunchTimeout
from aiinfra.placement.ray import nodes_from_ray, place

pytestmark = pytest.mark.ray

LEAF = "topology.aiinfra.io/leaf"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 100 * MB})
    try:
        for leaf in "aaab":
            c.add_node(num_cpus=2, num_gpus=8, object_store_memory=100 * MB, labels={LEAF: leaf},
                       resources={"aiinfra_rails": 4})  # fmt: skip
        ray.init(address=c.address, logging_level="WARNING")
        c.wait_for_nodes()
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def _leaf_of() -> dict[str, str]:
    return {n.node_id: n.labels.get(LEAF, "") for n in nodes_from_ray()}


@ray.remote(num_cpus=0)
class Where:
    def node_and_gpus(self) -> tuple[str, list[str]]:
        ctx = ray.get_runtime_context()
        return ctx.get_node_id(), [str(g) for g in ctx.get_accelerator_ids()["GPU"]]


def test_whole_node_job_best_fits_a_leaf_and_is_pinned(cluster: Cluster) -> None:
    with place(8, cpus_per_gpu=0.25, topology_labels=[LEAF]) as p:
        assert p.bundles == [{"GPU": 8, "CPU": 2, "aiinfra_rails": 4}]
        assert p.rank_map[7].leaf == "b"  # the single-node leaf fits exactly; leaf a stays whole
        assert placement_group_table(p.placement_group)["bundles_to_node_id"] == {0: p.node_order[0]}
    with place(16, cpus_per_gpu=0, topology_labels=[LEAF]) as p:
        assert {_leaf_of()[n] for n in p.node_order} == {"a"} and p.leaf_groups_used == 1


def test_spanning_job_orders_ranks_by_leaf(cluster: Cluster) -> None:
    with place(32, cpus_per_gpu=0, topology_labels=[LEAF], strategy="SPREAD") as p:
        table = placement_group_table(p.placement_group)["bundles_to_node_id"]
        assert [table[i] for i in range(4)] == p.node_order
        leaves = [p.rank_map[r].leaf for r in range(32)]
        assert leaves == ["a"] * 24 + ["b"] * 8
        assert p.leaf_groups_used == 2 and p.ring_crossings() == 2


def test_one_gpu_per_node_puts_each_rank_where_the_map_says(cluster: Cluster) -> None:
    with place(4, per_node=1, cpus_per_gpu=0, topology_labels=[LEAF]) as p:
        assert len(set(p.node_order)) == 4 and [p.rank_map[r].leaf for r in range(4)] == ["a", "a", "a", "b"]
        actors = [Where.options(**p.actor_options(r)).remote() for r in range(p.world_size)]
        where = ray.get([a.node_and_gpus.remote() for a in actors])
        assert [w[0] for w in where] == [p.rank_map[r].node_id for r in range(4)]
        assert all(len(w[1]) == 1 for w in where)
        for a in actors:
            ray.kill(a)


def test_impossible_request_fails_early_with_numbers(cluster: Cluster) -> None:
    before = len(placement_group_table())
    with pytest.raises(AiinfraError, match=r"40 GPUs as 5 whole node\(s\) of 8 GPUs.*4 node\(s\) qualify.*32 GPUs"):
        place(40, cpus_per_gpu=0)
    with pytest.raises(AiinfraError, match="on one node"):
        place(12, strategy="STRICT_PACK", cpus_per_gpu=0)
    assert len(placement_group_table()) == before  # nothing was created


def test_busy_cluster_times_out_with_a_clear_message(cluster: Cluster) -> None:
    hog = placement_group([{"GPU": 8}] * 4, strategy="SPREAD")
    ray.get(hog.ready(), timeout=30)
    try:
        with pytest.raises(LaunchTimeout, match="not ready after 1"):
            place(8, cpus_per_gpu=0, timeout_s=1)
    finally:
        remove_placement_group(hog)
