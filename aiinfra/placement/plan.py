"""Pure placement planning: which nodes a job of G GPUs takes, and in what rank order.

No Ray here: nodes come in as :class:`NodeInfo` (``aiinfra.placement.ray`` builds
them from ``ray.nodes()``), so every decision is unit-testable. The planner

* shapes the job: whole-node bundles when G is a multiple of the node size,
  one bundle of k GPUs on each of G/k nodes for ``per_node=k``, otherwise one
  packed (or spread) sub-node bundle per chosen node;
* keeps the job under as few fabric domains as it can: at each topology level,
  outermost first, the tightest domain that holds the whole job, else the
  largest domains first with a tight fit for the last (Kueue TAS's best fit);
* orders nodes so every domain is contiguous in rank order, so a ring crosses
  each domain boundary once: ring crossings equal the domains used.

Example:
    >>> leaves = ["a", "b", "a", "b", "a"]  # leaf a has 3 nodes, leaf b has 2
    >>> nodes = [NodeInfo(f"n{i}", resources={"GPU": 8, "CPU": 16}, labels={"leaf": x}) for i, x in enumerate(leaves)]
    >>> p = plan(nodes, 16, topology_labels=["leaf"])  # two whole nodes: leaf b fits them exactly
    >>> p.mode, p.node_order, p.leaf_groups_used
    ('whole-node', ('n1', 'n3'), 1)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiinfra.errors import AiinfraError, UsageError
from aiinfra.placement.options import PlacementOptions
from aiinfra.placement.topology import RankSlot, group_by, ring_crossings

K = TypeVar("K")



@dataclass(frozen=True)
class NodeInfo:
    """One Ray node as the planner sees it: resource totals, what is free now, labels."""

    node_id: str
    ip: str = ""
    resources: Mapping[str, float] = field(default_factory=dict)
    """Totals, as in ``ray.nodes()[i]["Resources"]``."""
    available: Mapping[str, float] | None = None
    """Free now; None means everything is free."""
    labels: Mapping[str, str] = field(default_factory=dict)
    alive: bool = True

    def total(self, name: str) -> int:
        return int(self.resources.get(name, 0))

    def free(self, name: str) -> int:
        return self.total(name) if self.available is None else int(self.available.get(name, 0))


@dataclass(frozen=True)
class Plan:
    """The outcome: one bundle per chosen node, nodes in rank order, and the rank map."""

    resource: str
    mode: str
    """'whole-node', 'per-node', 'packed' or 'spread'."""
    strategy: str
    bundles: tuple[dict[str, float], ...]
    node_order: tuple[str, ...]
    """Node id of bundle i, in rank order."""
    ranks: tuple[RankSlot, ...]
    topology_labels: tuple[str, ...] = ()
    waits: bool = False
    """True when the chosen nodes are busy now: the plan was made on totals and the group will wait."""

    @property
    def rank_map(self) -> dict[int, RankSlot]:
        return {r.rank: r for r in self.ranks}

    def domains_used(self, level: int = 0) -> int:
        """Distinct domains at topology level ``level`` (0 = innermost, the leaf) among the chosen nodes."""
        return len({r.domains[level] if r.domains else None for r in self.ranks})

    @property
    def leaf_groups_used(self) -> int:
        return self.domains_used(0)

    def ring_crossings(self, level: int = 0) -> int:
        """Consecutive rank pairs (with wrap-around) in different domains at ``level``."""
        return ring_crossings([r.domains[level] if r.domains else None for r in self.ranks])

    @property
    def bundle_label_selector(self) -> list[dict[str, str]]:
        """Pins bundle i to node_order[i] (Ray >= 2.49 label selectors; ray.io/node-id is built in)."""
        return [{"ray.io/node-id": node_id} for node_id in self.node_order]

    def describe(self) -> str:
        """A few lines for logs: shape, domains, and one line per node with its ranks."""
        head = (
            f"{len(self.ranks)} {self.resource} ranks, {self.mode}, {self.strategy}, {len(self.node_order)} nodes, "
            f"{self.leaf_groups_used} leaf group(s), {self.ring_crossings()} ring crossing(s)"
        )
        lines = [head]
        for i, node_id in enumerate(self.node_order):
            on_node = [r for r in self.ranks if r.bundle_index == i]
            first = on_node[0]
            lines.append(
                f"  ranks {first.rank}-{on_node[-1].rank} -> node {node_id[:12]} ({first.ip}) leaf={first.leaf}"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class _Shape:
    mode: str
    unit: int
    """GPUs (or CPUs) per unit; each node takes whole units."""
    need: int
    """Units the job needs."""
    cap: Callable[[NodeInfo, bool], int]
    """Units a node can take: (node, use_totals) -> count."""
    single: bool = False
    """STRICT_PACK: everything on one node."""
    describe: str = ""


def plan(nodes: Sequence[NodeInfo], gpus: int, options: PlacementOptions | None = None, **given: Any) -> Plan:
    """Choose nodes, bundles and rank order for ``gpus`` ranks of one ``resource`` each.

    ``options`` (keyword fields of :class:`PlacementOptions` replace its fields): topology
    labels innermost (leaf) first; ``keep_within`` (one of them) makes a single domain at
    that level a hard requirement.
    Raises AiinfraError, naming the numbers, when the cluster can never fit the job.

    Example:
        >>> nodes = [NodeInfo(f"n{i}", resources={"GPU": 8, "CPU": 16}) for i in range(2)]
        >>> [b["GPU"] for b in plan(nodes, 12).bundles]
        [8, 4]
    """
    o = PlacementOptions.of(options, **given)
    resource, strategy, topology_labels, keep_within = o.resource, o.strategy, o.topology_labels, o.keep_within
    if gpus < 1:
        raise UsageError(f"a job needs at least one {resource}, got {gpus}")
    live = [n for n in nodes if n.alive and n.total(resource) > 0]
    if not live:
        raise AiinfraError(f"cannot place {gpus} {resource}s: the Ray cluster has no live node with a {resource}")
    size = o.gpus_per_node or max(n.total(resource) for n in live)
    cpg = 0.0 if resource == "CPU" else o.cpus_per_gpu
    shape = _shape(gpus, resource, size, o.per_node, strategy, cpg, len(live))
    levels = list(reversed(topology_labels))  # outermost first: pick the spine, then the leaf inside it
    chosen = _choose(live, shape, levels, keep_within, use_totals=False)
    waits = chosen is None
    if chosen is None:
        # Busy now but possible in principle: plan on totals and let the placement group wait.
        chosen = _choose(live, shape, levels, keep_within, use_totals=True)
    if chosen is None:
        raise AiinfraError(_cannot_fit(gpus, resource, shape, live, keep_within))
    chosen.sort(key=lambda c: (*[c[0].labels.get(k, "") for k in levels], c[0].ip, c[0].node_id))
    bundles: list[dict[str, float]] = []
    ranks: list[RankSlot] = []
    for index, (node, units) in enumerate(chosen):
        count = units * shape.unit
        bundle: dict[str, float] = {resource: count}
        if cpg:
            bundle["CPU"] = count * cpg
        if count == node.total(resource):
            # A whole node also takes its rails, so no other job's bundle lands on its HCAs.
            bundle.update({r: node.total(r) for r in o.rail_resources if node.total(r) > 0})
        bundles.append(bundle)
        domains = tuple(node.labels.get(k) for k in topology_labels)
        base = len(ranks)
        ranks.extend(
            RankSlot(base + local, node.node_id, node.ip, local, index, domains[0] if domains else None, domains)
            for local in range(count)
        )
    return Plan(
        resource, shape.mode, strategy, tuple(bundles), tuple(n.node_id for n, _ in chosen), tuple(ranks),
        tuple(topology_labels), waits,
    )  # fmt: skip


def _shape(gpus: int, resource: str, size: int, per_node: int | None, strategy: str, cpg: float, n: int) -> _Shape:
    def fits(node: NodeInfo, count: int, totals: bool) -> bool:
        have = node.total if totals else node.free
        return have(resource) >= count and have("CPU") >= count * cpg

    if per_node is not None or strategy == "STRICT_SPREAD":
        k = per_node or 1
        if gpus % k:
            raise UsageError(f"{gpus} {resource}s cannot be split into {k} per node")
        return _Shape(
            "per-node", k, gpus // k, lambda nd, t: int(fits(nd, k, t)),
            describe=f"as {k} {resource}(s) on each of {gpus // k} distinct nodes",
        )  # fmt: skip
    if gpus % size == 0 and (strategy != "STRICT_PACK" or gpus == size):

        def whole(nd: NodeInfo, t: bool) -> int:
            return int(nd.total(resource) == size and fits(nd, size, t))

        return _Shape(
            "whole-node", size, gpus // size, whole,
            describe=f"as {gpus // size} whole node(s) of {size} {resource}s and {size * cpg:g} CPUs",
        )  # fmt: skip

    def free_units(nd: NodeInfo, t: bool) -> int:
        have = nd.total if t else nd.free
        return min(have(resource), math.floor(have("CPU") / cpg) if cpg else have(resource))

    if strategy == "SPREAD":
        most = math.ceil(gpus / n)
        return _Shape("spread", 1, gpus, lambda nd, t: min(most, free_units(nd, t)), describe=f"spread, <= {most}/node")
    single = strategy == "STRICT_PACK"
    return _Shape("packed", 1, gpus, free_units, single, "on one node" if single else f"packed ({cpg:g} CPU each)")


def _choose(
    nodes: list[NodeInfo], shape: _Shape, levels: list[str], keep_within: str | None, use_totals: bool
) -> list[tuple[NodeInfo, int]] | None:
    def cap(nd: NodeInfo) -> int:
        return shape.cap(nd, use_totals)

    if keep_within is not None:
        groups = {k: g for k, g in group_by(nodes, keep_within).items() if k is not None}
        picked = _pick([(k, _capacity(g, cap, shape.single)) for k, g in groups.items()], shape.need, single=True)
        if picked is None:
            return None
        nodes = groups[picked[0][0]]
    return _select(nodes, shape.need, levels, cap, shape.single)


def _select(
    nodes: list[NodeInfo], need: int, levels: list[str], cap: Callable[[NodeInfo], int], single: bool
) -> list[tuple[NodeInfo, int]] | None:
    if not levels:
        by_id = {n.node_id: n for n in nodes}
        on_nodes = _pick([(n.node_id, cap(n)) for n in nodes], need, single, tie=lambda i: (by_id[i].ip, i))
        return None if on_nodes is None else [(by_id[i], take) for i, take in on_nodes]
    groups = group_by(nodes, levels[0])
    picked = _pick([(k, _capacity(g, cap, single)) for k, g in groups.items()], need, single)
    if picked is None:
        return None
    out: list[tuple[NodeInfo, int]] = []
    for key, take in picked:
        inner = _select(groups[key], take, levels[1:], cap, single)
        if inner is None:  # cannot happen: take <= the group's capacity
            return None
        out.extend(inner)
    return out


def _capacity(nodes: list[NodeInfo], cap: Callable[[NodeInfo], int], single: bool) -> int:
    caps = [cap(n) for n in nodes]
    return max(caps, default=0) if single else sum(caps)


def _pick(
    items: list[tuple[K, int]], need: int, single: bool, tie: Callable[[K], object] = str
) -> list[tuple[K, int]] | None:
    """Best fit: the tightest item holding ``need``; else largest first (fewest items), tight fit for the last."""
    remaining = sorted((it for it in items if it[1] > 0), key=lambda it: (-it[1], tie(it[0])))
    chosen: list[tuple[K, int]] = []
    while need > 0:
        fitting = [it for it in remaining if it[1] >= need]
        if fitting:
            best = min(fitting, key=lambda it: (it[1], tie(it[0])))
            return [*chosen, (best[0], need)]
        if single or not remaining:
            return None
        key, capacity = remaining.pop(0)
        chosen.append((key, capacity))
        need -= capacity
    return chosen


def _cannot_fit(gpus: int, resource: str, shape: _Shape, live: list[NodeInfo], keep_within: str | None) -> str:
    eligible = sum(1 for n in live if shape.cap(n, True) > 0)
    largest = max(live, key=lambda n: (n.total(resource), n.total("CPU")))
    msg = (
        f"the Ray cluster can never fit {gpus} {resource}s {shape.describe}: it needs {shape.need} unit(s) of "
        f"{shape.unit} {resource}(s) and {eligible} node(s) qualify; the cluster has {len(live)} node(s) with "
        f"{resource}s, {sum(n.total(resource) for n in live)} {resource}s and {sum(n.total('CPU') for n in live)} "
        f"CPUs in all (largest node: {largest.total(resource)} {resource}s, {largest.total('CPU')} CPUs)"
    )
    if keep_within is not None:
        groups = group_by(live, keep_within)
        sizes = {k: sum(shape.cap(n, True) for n in g) for k, g in groups.items() if k is not None}
        best = max(sizes.items(), key=lambda kv: kv[1], default=(None, 0))
        msg += f"; keep_within '{keep_within}': the largest domain ('{best[0]}') holds {best[1]} unit(s)"
    return msg
