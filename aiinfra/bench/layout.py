"""Where the benchmark's actors go, and which of them form each process group.

Actors are placed by :func:`aiinfra.placement.ray.place` (whole-node bundles,
topology-aware rank order); the groups are then formed from where the actors
*say* they landed (node id, physical GPU index), so a figure is always
attributed to the node or rail that produced it.

Example:
    >>> ms = [Member("a", "na", "10.0.0.1", g) for g in (0, 1)] + [Member("b", "nb", "10.0.0.2", g) for g in (0, 1)]
    >>> [(lay.name, len(lay.members)) for lay in layouts("rail", ms, None)]
    [('gpu0', 2), ('gpu1', 2)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiinfra.bench.results import Layout, Member
from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import UsageError


@dataclass
class Placed:
    """Actor options for each rank (``.options(**options[r])``), and how to free the reservation."""

    options: list[dict[str, Any]]
    description: str
    release: Callable[[], None]


def place_workers(n: int, gpus_each: int, definition: ClusterDefinition | None, timeout_s: float) -> Placed:
    """Reserve ``n`` workers of one GPU each (one CPU each when ``gpus_each`` is 0).

    Example:
        >>> placed = place_workers(8, 1, None, 60)  # doctest: +SKIP
        >>> placed.options[0]["num_gpus"]  # doctest: +SKIP
        1
    """
    from aiinfra.placement.ray import place

    resource = "GPU" if gpus_each else "CPU"
    p = place(n, cluster_def=definition, resource=resource, timeout_s=timeout_s, name="aiinfra-bench")
    return Placed([p.actor_options(r) for r in range(n)], p.describe(), p.remove)


def layouts(mode: str, members: list[Member], definition: ClusterDefinition | None) -> list[Layout]:
    """The process groups of a mode, from the actors' locations (members in rank order).

    intra: one group per node; rail: one group per rail, the rail's GPU on every node;
    job: one group of everyone, in the placement's rank order.

    Example:
        >>> ms = [Member("a", "na", "10.0.0.1", 0), Member("a", "na", "10.0.0.1", 1)]
        >>> [lay.name for lay in layouts("intra", ms, None)], [lay.name for lay in layouts("job", ms, None)]
        (['node a'], ['job'])
    """
    if mode == "job":
        return [Layout("job", "job", list(members))]
    if mode == "intra":
        by_node: dict[str, list[Member]] = {}
        for m in members:
            by_node.setdefault(m.node_id, []).append(m)
        hosts = [ms[0].host for ms in by_node.values()]
        return [
            Layout(f"node {ms[0].host}" if hosts.count(ms[0].host) == 1 else f"node {ms[0].host}/{nid[:8]}", "node",
                   sorted(ms, key=lambda m: m.gpu if m.gpu is not None else -1))
            for nid, ms in sorted(by_node.items(), key=lambda kv: (kv[1][0].ip, kv[0]))
        ]
    if mode == "rail":
        return _rail_layouts(members, definition)
    raise UsageError(f"unknown mode {mode!r}; choose from intra, rail, job")


def _rail_layouts(members: list[Member], definition: ClusterDefinition | None) -> list[Layout]:
    nodes = {m.node_id for m in members}
    if len(nodes) < 2:
        raise UsageError(f"rail mode needs GPUs on at least 2 nodes; the placement put all {len(members)} on one")
    if any(m.gpu is None for m in members):
        raise UsageError("rail mode needs GPUs (a rail is the HCA next to one GPU on every node)")
    # Each rail is tested through the first GPU it serves, so two GPUs never share an HCA
    # in one run and the figure is that HCA's.
    rails: list[tuple[str, int, float | None]] = []
    if definition is not None and definition.rails:
        rails = [(r.name, r.gpus[0], r.rate_gbps) for r in definition.rails if r.gpus]
    else:
        rails = [(f"gpu{g}", g, None) for g in sorted({m.gpu for m in members if m.gpu is not None})]
    out = []
    for name, gpu, rate in rails:
        on_rail = sorted((m for m in members if m.gpu == gpu), key=lambda m: (m.ip, m.node_id))
        if len({m.node_id for m in on_rail}) >= 2:
            out.append(Layout(name, "rail", on_rail, rail_rate_gbps=rate))
    if not out:
        raise UsageError("rail mode found no rail with its GPU placed on 2 or more nodes")
    return out
