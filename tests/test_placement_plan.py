"""The pure placement planner: bundle shapes, leaf minimisation, rank order, can't-fit errors."""

from __future__ import annotations

import pytest

from aiinfra.errors import AiinfraError, UsageError
from aiinfra.placement.plan import NodeInfo, plan
from aiinfra.placement.topology import WorkerSpot, leaf_order_report, ring_crossings, topology_rank_order

LEAF = "network.topology.nvidia.com/leaf"
SPINE = "network.topology.nvidia.com/spine"


def node(name: str, leaf: str | None = None, spine: str | None = None, gpus: int = 8, free: int | None = None,
         cpus: int = 32, rails: int = 0) -> NodeInfo:  # fmt: skip
    labels = {k: v for k, v in ((LEAF, leaf), (SPINE, spine)) if v is not None}
    resources = {"GPU": gpus, "CPU": cpus, **({"aiinfra_rails": rails} if rails else {})}
    available = None if free is None else {**resources, "GPU": free}
    # Interleaved ids and ips so that sorting by name alone would never give leaf order.
    return NodeInfo(name, f"10.0.0.{int(name[1:])}", resources, available, labels)


def test_whole_nodes_take_all_gpus_cpus_and_rails() -> None:
    nodes = [node(f"n{i}", rails=4) for i in range(3)]
    p = plan(nodes, 16, cpus_per_gpu=2, rail_resources=["aiinfra_rails", "rdma/rail0"])
    assert p.mode == "whole-node"
    assert p.bundles == ({"GPU": 8, "CPU": 16, "aiinfra_rails": 4},) * 2
    assert [(r.rank, r.local_rank, r.bundle_index) for r in p.ranks][7:9] == [(7, 7, 0), (8, 0, 1)]
    assert p.bundle_label_selector == [{"ray.io/node-id": n} for n in p.node_order]


def test_sub_node_jobs_are_packed_on_the_fewest_and_tightest_nodes() -> None:
    nodes = [node("n1"), node("n2", free=4), node("n3")]
    assert [b["GPU"] for b in plan(nodes, 12).bundles] == [8, 4]
    small = plan(nodes, 3)
    assert small.mode == "packed" and small.node_order == ("n2",)  # the 4-free node, keeping whole nodes whole
    assert plan(nodes, 3, cpus_per_gpu=0).bundles == ({"GPU": 3},)


def test_per_node_one_gpu_on_distinct_nodes() -> None:
    nodes = [node(f"n{i}", leaf="ab"[i % 2]) for i in range(1, 5)]
    p = plan(nodes, 4, per_node=1, topology_labels=[LEAF])
    assert p.mode == "per-node" and len(set(p.node_order)) == 4
    assert all(r.local_rank == 0 for r in p.ranks)
    assert [r.leaf for r in p.ranks] == ["a", "a", "b", "b"]
    assert plan(nodes, 3, strategy="STRICT_SPREAD").bundles == ({"GPU": 1, "CPU": 1},) * 3


def test_best_fit_leaf_keeps_the_job_in_one_leaf() -> None:
    # leaf a: 3 idle nodes, leaf b: 2 idle nodes, leaf c: 1 idle node
    nodes = [node(f"n{i}", leaf=leaf) for i, leaf in enumerate("abacab", start=1)]
    p = plan(nodes, 16, topology_labels=[LEAF])
    assert p.leaf_groups_used == 1 and {r.leaf for r in p.ranks} == {"b"}
    assert plan(nodes, 24, topology_labels=[LEAF]).leaf_groups_used == 1  # only leaf a holds three nodes


def test_spanning_jobs_use_the_fewest_leaves_and_contiguous_ranks() -> None:
    nodes = [node(f"n{i}", leaf=leaf) for i, leaf in enumerate("abcabcaa", start=1)]  # a:4, b:2, c:2
    p = plan(nodes, 48, topology_labels=[LEAF])  # 6 nodes: a (4) + one of b/c (2)
    assert p.leaf_groups_used == 2
    assert p.ring_crossings() == 2  # each leaf boundary crossed once each way round the ring
    leaves = [r.leaf for r in p.ranks]
    assert leaves == sorted(leaves)
    assert leaf_order_report(p.ranks) == {"domains_used": 2, "ring_crossings": 2, "best_ring_crossings": 2}


def test_two_levels_pick_the_spine_first() -> None:
    # spine s1 has leaves a (2 nodes) and b (1); spine s2 has leaf c (2) and d (2)
    layout = [("a", "s1"), ("a", "s1"), ("b", "s1"), ("c", "s2"), ("c", "s2"), ("d", "s2"), ("d", "s2")]
    nodes = [node(f"n{i}", leaf=lf, spine=sp) for i, (lf, sp) in enumerate(layout, start=1)]
    p = plan(nodes, 24, topology_labels=[LEAF, SPINE])  # 3 nodes: s1 fits exactly (best fit)
    assert {r.domains[1] for r in p.ranks} == {"s1"} and p.leaf_groups_used == 2
    p = plan(nodes, 32, topology_labels=[LEAF, SPINE])  # 4 nodes: only s2 holds 4
    assert p.domains_used(1) == 1 and p.leaf_groups_used == 2
    assert p.ring_crossings(1) == 0


def test_keep_within_is_a_hard_limit() -> None:
    nodes = [node(f"n{i}", leaf=leaf) for i, leaf in enumerate("aabb", start=1)]
    assert plan(nodes, 16, topology_labels=[LEAF], keep_within=LEAF).leaf_groups_used == 1
    with pytest.raises(AiinfraError, match=r"largest domain \('a'\) holds 2 unit"):
        plan(nodes, 24, topology_labels=[LEAF], keep_within=LEAF)
    with pytest.raises(UsageError, match="keep_within"):
        plan(nodes, 8, keep_within=LEAF)


def test_cannot_ever_fit_names_the_numbers() -> None:
    nodes = [node("n1"), node("n2"), NodeInfo("head", resources={"CPU": 4})]
    with pytest.raises(AiinfraError) as err:
        plan(nodes, 24)
    msg = str(err.value)
    assert "24 GPUs as 3 whole node(s) of 8 GPUs" in msg and "2 node(s) qualify" in msg and "16 GPUs" in msg
    with pytest.raises(AiinfraError, match="on one node"):
        plan(nodes, 12, strategy="STRICT_PACK")
    with pytest.raises(AiinfraError, match="no live node with a GPU"):
        plan([NodeInfo("head", resources={"CPU": 4})], 1)
    with pytest.raises(AiinfraError, match="64 CPUs in all"):
        plan(nodes, 9, cpus_per_gpu=8)  # 8 GPUs fit a node, but only 4 of them with 8 CPUs each


def test_busy_nodes_make_a_plan_that_waits() -> None:
    nodes = [node("n1", free=0), node("n2", free=2)]
    p = plan(nodes, 16)
    assert p.waits and len(p.bundles) == 2
    assert not plan(nodes, 2).waits


def test_spread_and_strict_pack() -> None:
    nodes = [node(f"n{i}") for i in range(1, 5)]
    # SPREAD caps each node at ceil(G / nodes with GPUs): 6 GPUs over 4 nodes -> at most 2 per node
    assert [b["GPU"] for b in plan(nodes, 6, strategy="SPREAD").bundles] == [2, 2, 2]
    assert len(plan(nodes, 8, strategy="STRICT_PACK").bundles) == 1
    with pytest.raises(UsageError, match="strategy"):
        plan(nodes, 8, strategy="BEST")


def test_cpu_ranks_for_local_runs() -> None:
    nodes = [NodeInfo(f"n{i}", resources={"CPU": 2}, labels={"leaf": "ab"[i % 2]}) for i in range(1, 5)]
    p = plan(nodes, 4, resource="CPU", topology_labels=["leaf"])
    assert p.bundles == ({"CPU": 2}, {"CPU": 2}) and p.leaf_groups_used == 1


def test_ring_crossings() -> None:
    assert ring_crossings([]) == 0 and ring_crossings(["a"]) == 0
    assert ring_crossings(["a", "b", "a", "b"]) == 4
    assert ring_crossings(["a", "a", "b", "b", "c"]) == 3


def test_topology_rank_order_makes_leaves_contiguous() -> None:
    # Ray Train ranks nodes by bundle placement: leaves interleave a, b, a, b.
    spots = [WorkerSpot(n, "", i // 2, i % 2) for i, n in enumerate(["p", "p", "q", "q", "r", "r", "s", "s"])]
    labels = {"p": {LEAF: "a"}, "q": {LEAF: "b"}, "r": {LEAF: "a"}, "s": {LEAF: "b"}}
    ray_order = [labels[w.node_id][LEAF] for w in spots]
    assert ring_crossings(ray_order) == 4
    slots = topology_rank_order(spots, labels, [LEAF])
    by_rank = sorted(slots, key=lambda s: s.rank)
    assert [s.leaf for s in by_rank] == ["a"] * 4 + ["b"] * 4
    assert [(s.node_id, s.local_rank) for s in by_rank[:4]] == [("p", 0), ("p", 1), ("r", 0), ("r", 1)]
    assert ring_crossings([s.leaf for s in by_rank]) == 2
    kept = topology_rank_order(spots, labels, [LEAF], reorder=False)
    assert [s.rank for s in kept] == list(range(8)) and kept[2].leaf == "b"
