"""Fabric-topology vocabulary shared by the planner and the rank reports.

Nodes carry fabric location as labels (innermost first: leaf, then spine).
Placement quality is measured as in scheduling-anchors.md section 6: domains
used per level, and ring crossings, the consecutive rank pairs (wrap-around
included) that sit in different domains. With every domain contiguous in rank
order the crossings equal the domains used (when more than one), the minimum.

Example:
    >>> ring_crossings(["a", "a", "b", "b"])
    2
    >>> ring_crossings(["a", "b", "a", "b"])
    4
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeVar


class Labelled(Protocol):
    @property
    def labels(self) -> Mapping[str, str]: ...


L = TypeVar("L", bound=Labelled)


@dataclass(frozen=True)
class RankSlot:
    """Where one rank runs: node, local rank on it, bundle, and its fabric domains."""

    rank: int
    node_id: str
    ip: str
    local_rank: int
    bundle_index: int
    leaf: str | None
    """Value of the innermost topology label (None when the node has no such label)."""
    domains: tuple[str | None, ...] = ()
    """Values of every topology label, innermost first."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for logs, results and the AIINFRA_RANK_MAP variable)."""
        out = asdict(self)
        out["domains"] = list(self.domains)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RankSlot:
        return cls(**{**raw, "domains": tuple(raw.get("domains", ()))})


def group_by(items: Sequence[L], key: str) -> dict[str | None, list[L]]:
    """Items grouped by the value of label ``key`` (None: the label is missing), in first-seen order.

    Example:
        >>> from aiinfra.placement.plan import NodeInfo
        >>> sorted(k for k in group_by([NodeInfo("a", labels={"leaf": "x"}), NodeInfo("b")], "leaf") if k)
        ['x']
    """
    out: dict[str | None, list[L]] = {}
    for item in items:
        out.setdefault(item.labels.get(key), []).append(item)
    return out


def ring_crossings(domains: Sequence[Hashable]) -> int:
    """Consecutive pairs, wrap-around included, whose domains differ (0 for a single rank).

    Example:
        >>> ring_crossings(["a", "a"])
        0
    """
    n = len(domains)
    if n < 2:
        return 0
    return sum(1 for i in range(n) if domains[i] != domains[(i + 1) % n])


def leaf_order_report(slots: Sequence[RankSlot], level: int = 0) -> dict[str, int]:
    """Domains used and ring crossings of a rank order, with the best crossings that placement allows.

    Example:
        >>> s = [RankSlot(i, f"n{i}", "", 0, i, leaf, (leaf,)) for i, leaf in enumerate("abab")]
        >>> leaf_order_report(s)
        {'domains_used': 2, 'ring_crossings': 4, 'best_ring_crossings': 2}
    """
    domains = [s.domains[level] if len(s.domains) > level else None for s in slots]
    used = len(set(domains))
    return {
        "domains_used": used,
        "ring_crossings": ring_crossings(domains),
        "best_ring_crossings": used if used > 1 else 0,
    }


@dataclass(frozen=True)
class WorkerSpot:
    """Where a started worker landed, as Ray ranked it (Ray groups a node's workers, nodes in bundle order)."""

    node_id: str
    ip: str
    node_rank: int
    local_rank: int


def topology_rank_order(
    workers: Sequence[WorkerSpot],
    node_labels: Mapping[str, Mapping[str, str]],
    topology_labels: Sequence[str],
    *,
    reorder: bool = True,
) -> list[RankSlot]:
    """Ranks for started workers with every fabric domain contiguous (slot i is worker i's new rank).

    Ray Train orders nodes by bundle placement, blind to the fabric, so a ring may
    cross leaves many times; sorting nodes by their label path (outermost first)
    keeps leaves together. Ties keep Ray's order; a node's workers keep their local ranks.
    With ``reorder=False`` the ranks stay Ray's; the slots still name each rank's domains.

    Example:
        >>> w = [WorkerSpot(n, "", i, 0) for i, n in enumerate(["x", "y", "z"])]
        >>> [s.rank for s in topology_rank_order(w, {"x": {"l": "a"}, "y": {"l": "b"}, "z": {"l": "a"}}, ["l"])]
        [0, 2, 1]
    """
    outer_first = list(reversed(topology_labels)) if reorder else []

    def key(i: int) -> tuple[object, ...]:
        labels = node_labels.get(workers[i].node_id, {})
        return (*(labels.get(k, "") for k in outer_first), workers[i].node_rank, workers[i].local_rank)

    order = sorted(range(len(workers)), key=key)
    node_index: dict[str, int] = {}
    for i in order:
        node_index.setdefault(workers[i].node_id, len(node_index))
    slots: list[RankSlot | None] = [None] * len(workers)
    for rank, i in enumerate(order):
        w = workers[i]
        domains = tuple(node_labels.get(w.node_id, {}).get(k) for k in topology_labels)
        leaf = domains[0] if domains else None
        slots[i] = RankSlot(rank, w.node_id, w.ip, w.local_rank, node_index[w.node_id], leaf, domains)
    return [s for s in slots if s is not None]
