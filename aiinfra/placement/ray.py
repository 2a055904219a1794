"""GPU- and topology-aware Ray placement groups.

:func:`place` reads the live Ray cluster (``ray.nodes()``: totals, labels;
what is free now), lets :func:`aiinfra.placement.plan.plan` choose the nodes,
and creates a placement group with one bundle per chosen node, each bundle
pinned to its node with a ``ray.io/node-id`` label selector. Ray's own PACK
orders bundles unstably (ray#51117), so aiinfra owns the rank order: rank r
runs in bundle ``placement.bundle_of(r)`` and consecutive ranks share a leaf.

Example (one torch.distributed process per GPU)::

    with place(16, cluster_def="clusters/h100-ndr.yaml") as p:
        actors = [Worker.options(**p.actor_options(r)).remote(r) for r in range(p.world_size)]
        log.info("rank map:\\n%s", p.describe())
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from aiinfra.definition.loader import load_definition
from aiinfra.definition.model import ClusterDefinition, definition_from_env
from aiinfra.errors import LaunchTimeout
from aiinfra.placement.fabric_labels import load_fabric_labels, with_fabric_labels
from aiinfra.placement.options import STRATEGIES, PlacementOptions
from aiinfra.placement.plan import NodeInfo, Plan, plan
from aiinfra.placement.topology import RankSlot

__all__ = [
    "STRATEGIES", "NodeInfo", "Placement", "PlacementOptions", "Plan", "RankSlot", "nodes_from_ray", "place", "plan",
]

log = logging.getLogger(__name__)

DefinitionLike = ClusterDefinition | str | Path | None


def resolve_definition(cluster_def: DefinitionLike) -> ClusterDefinition | None:
    """A definition object, a path to load, or None: the one a RayCluster pod carries (AIINFRA_DEFINITION).

    Example:
        >>> resolve_definition("clusters/local.yaml").name
        'local'
    """
    if isinstance(cluster_def, ClusterDefinition):
        return cluster_def
    if cluster_def is not None:
        return load_definition(cluster_def)
    return definition_from_env(os.environ)


def nodes_from_ray() -> list[NodeInfo]:
    """The live nodes of the connected Ray cluster, with totals, free resources and labels.

    Example:
        >>> [n.node_id for n in nodes_from_ray()]  # doctest: +SKIP
        ['5becd8d3...', ...]
    """
    import ray

    try:
        # Private but long-lived (ray.available_resources() is its cluster-wide sum); without it
        # the planner treats everything as free and the group simply waits for busy nodes.
        from ray._private.state import available_resources_per_node

        free: dict[str, dict[str, float]] | None = available_resources_per_node()
    except Exception:  # pragma: no cover - depends on Ray internals
        log.debug("per-node free resources unavailable; planning on totals", exc_info=True)
        free = None
    out = []
    # In a RayCluster, fabric labels come from the Kubernetes nodes (see aiinfra.placement.fabric_labels).
    fabric = load_fabric_labels()
    for n in ray.nodes():
        if not n.get("Alive"):
            continue
        node_id = n["NodeID"]
        available = None if free is None else free.get(node_id, {})
        labels = with_fabric_labels(n.get("Labels") or {}, fabric)
        out.append(NodeInfo(node_id, n.get("NodeManagerAddress", ""), n.get("Resources", {}), available, labels))
    return out


class Placement:
    """A ready placement group and the rank map aiinfra chose for it; remove() (or `with`) frees it."""

    def __init__(self, plan: Plan, placement_group: Any, cpus_per_rank: float) -> None:
        self.plan = plan
        self.placement_group = placement_group
        self.cpus_per_rank = cpus_per_rank

    @property
    def bundles(self) -> list[dict[str, float]]:
        return list(self.plan.bundles)

    @property
    def world_size(self) -> int:
        return len(self.plan.ranks)

    @property
    def rank_map(self) -> dict[int, RankSlot]:
        """rank -> where it runs (node id and ip, local rank, bundle, leaf)."""
        return self.plan.rank_map

    @property
    def node_order(self) -> list[str]:
        """Node ids in rank order (bundle i is on node_order[i])."""
        return list(self.plan.node_order)

    @property
    def leaf_groups_used(self) -> int:
        return self.plan.leaf_groups_used

    def ring_crossings(self, level: int = 0) -> int:
        return self.plan.ring_crossings(level)

    def bundle_of(self, rank: int) -> int:
        return self.plan.rank_map[rank].bundle_index

    def actor_options(self, rank: int, *, num_cpus: float | None = None) -> dict[str, Any]:
        """``.options(**...)`` for the actor of ``rank``: its bundle and one unit of the resource.

        Example:
            >>> Worker.options(**placement.actor_options(0)).remote()  # doctest: +SKIP
        """
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        strategy = PlacementGroupSchedulingStrategy(
            self.placement_group, placement_group_bundle_index=self.bundle_of(rank)
        )
        cpus = self.cpus_per_rank if num_cpus is None else num_cpus
        if self.plan.resource == "GPU":
            return {"scheduling_strategy": strategy, "num_gpus": 1, "num_cpus": cpus}
        if self.plan.resource == "CPU":
            return {"scheduling_strategy": strategy, "num_cpus": 1}
        return {"scheduling_strategy": strategy, "resources": {self.plan.resource: 1}, "num_cpus": cpus}

    def describe(self) -> str:
        return self.plan.describe()

    def remove(self) -> None:
        from ray.util.placement_group import remove_placement_group

        remove_placement_group(self.placement_group)

    def __enter__(self) -> Placement:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()


def place(
    gpus: int, *, cluster_def: DefinitionLike = None, timeout_s: float = 60, name: str = "", **options: Any
) -> Placement:
    """Reserve ``gpus`` GPUs (one rank each) on the connected Ray cluster; wait until ready.

    ``options`` are :class:`~aiinfra.placement.options.PlacementOptions` fields; their defaults
    come from the cluster definition when one is given or carried by the pod (GPUs per node,
    topology labels innermost first, keep_within, the rail resources a whole-node bundle
    also takes). ``per_node=1`` asks for exactly one GPU on each of
    ``gpus`` nodes (a per-rail fabric test). Raises AiinfraError when the cluster can
    never fit the request and LaunchTimeout when it does not become ready in time.

    Example:
        >>> p = place(16, per_node=1, topology_labels=["leaf"])  # doctest: +SKIP
        >>> p.rank_map[0].leaf  # doctest: +SKIP
        'leaf-a'
    """
    import ray
    from ray.exceptions import GetTimeoutError
    from ray.util.placement_group import placement_group, placement_group_table, remove_placement_group

    opts = PlacementOptions.from_definition(resolve_definition(cluster_def), **options)
    strategy = opts.strategy
    nodes = nodes_from_ray()
    the_plan = plan(nodes, gpus, opts)
    if the_plan.waits:
        log.warning("the chosen nodes are busy now; the placement group waits up to %ss for them", timeout_s)
    try:
        pg = placement_group(
            list(the_plan.bundles), strategy=strategy, name=name, bundle_label_selector=the_plan.bundle_label_selector
        )
    except TypeError:  # Ray < 2.49: no label selectors; the rank map then follows where Ray put each bundle
        log.warning("this Ray cannot pin bundles to nodes (no bundle_label_selector); Ray chooses the nodes")
        pg = placement_group(list(the_plan.bundles), strategy=strategy, name=name)
    try:
        ray.get(pg.ready(), timeout=timeout_s)
    except GetTimeoutError as exc:
        remove_placement_group(pg)
        raise LaunchTimeout(
            f"placement group of {len(the_plan.bundles)} bundle(s) {list(the_plan.bundles)} on nodes "
            f"{[n[:12] for n in the_plan.node_order]} was not ready after {timeout_s}s: those nodes are busy "
            f"(free now: {ray.available_resources()})"
        ) from exc
    actual = placement_group_table(pg).get("bundles_to_node_id", {})
    the_plan = _check_actual(the_plan, actual, {n.node_id: n for n in nodes})
    log.info("placement %s: %s", name or pg.id.hex()[:12], the_plan.describe())
    return Placement(the_plan, pg, opts.cpus_per_gpu if opts.resource != "CPU" else 1)


def _check_actual(the_plan: Plan, actual: dict[int, str], nodes: dict[str, NodeInfo]) -> Plan:
    """The plan, with nodes as Ray placed them (they differ only if a label selector was not honoured)."""
    moved = {i: n for i, n in actual.items() if n != the_plan.node_order[i] and n in nodes}
    if not moved:
        return the_plan
    log.warning("Ray placed bundles %s elsewhere than planned; the rank map follows Ray", sorted(moved))
    ranks = []
    for r in the_plan.ranks:
        node = nodes[moved.get(r.bundle_index, r.node_id)]
        domains = tuple(node.labels.get(k) for k in the_plan.topology_labels)
        ranks.append(
            replace(r, node_id=node.node_id, ip=node.ip, leaf=domains[0] if domains else None, domains=domains)
        )
    order = tuple(moved.get(i, n) for i, n in enumerate(the_plan.node_order))
    return replace(the_plan, node_order=order, ranks=tuple(ranks))
