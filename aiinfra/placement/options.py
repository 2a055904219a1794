"""How a job is placed: one options record shared by the planner, ``place()`` and ``train.fit``,
with the cluster definition's defaults filled in one place.

Example:
    >>> from aiinfra.definition import load_definition
    >>> o = PlacementOptions.from_definition(load_definition("clusters/a800-ib.yaml"), strategy="SPREAD")
    >>> o.gpus_per_node, o.topology_labels[0], o.strategy
    (8, 'network.topology.nvidia.com/leaf', 'SPREAD')
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from aiinfra.contract import RAILS_RESOURCE
from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import UsageError

STRATEGIES = ("PACK", "STRICT_PACK", "SPREAD", "STRICT_SPREAD")


@dataclass(frozen=True)
class PlacementOptions:
    """What shapes a placement besides the number of GPUs (or CPU workers)."""

    resource: str = "GPU"
    """The unit placed: 'GPU', or 'CPU' for CPU-only workers."""
    gpus_per_node: int | None = None
    """Size of a whole node; None: the largest node's."""
    per_node: int | None = None
    """Exactly this many units on each of gpus/per_node distinct nodes (e.g. 1 for a per-rail test)."""
    strategy: str = "PACK"
    cpus_per_gpu: float = 1
    topology_labels: tuple[str, ...] = ()
    """Node label keys of the fabric, innermost (leaf) first."""
    keep_within: str | None = None
    """One of topology_labels: all units must share that domain (a hard limit)."""
    rail_resources: tuple[str, ...] = (RAILS_RESOURCE,)
    """Resources a whole-node bundle also takes, so no other job lands on its HCAs."""

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise UsageError(f"strategy '{self.strategy}' is not one of {', '.join(STRATEGIES)}")
        if self.keep_within is not None and self.keep_within not in self.topology_labels:
            raise UsageError(
                f"keep_within '{self.keep_within}' is not one of the topology labels {list(self.topology_labels)}"
            )

    @classmethod
    def from_definition(cls, d: ClusterDefinition | None, **given: Any) -> PlacementOptions:
        """Options from the definition's GPUs per node, topology and rails; ``given`` (not None) wins.

        Example:
            >>> PlacementOptions.from_definition(None, per_node=1).per_node
            1
        """
        base = cls.defaults_of(d, resource=given.get("resource") or "GPU")
        chosen = {k: v for k, v in given.items() if v is not None}
        for key in ("topology_labels", "rail_resources"):
            if key in chosen:
                chosen[key] = tuple(chosen[key])
        return replace(base, **chosen)

    @classmethod
    def defaults_of(cls, d: ClusterDefinition | None, resource: str = "GPU") -> PlacementOptions:
        """What the definition alone says (nothing without one)."""
        if d is None:
            return cls(resource=resource)
        return cls(
            resource=resource,
            gpus_per_node=d.gpu.per_node if d.gpu and resource != "CPU" else None,
            topology_labels=tuple(d.topology.labels),
            keep_within=d.topology.keep_within,
            rail_resources=(RAILS_RESOURCE, *(r.resource_name for r in d.rails)),
        )

    @classmethod
    def of(cls, options: PlacementOptions | None, **given: Any) -> PlacementOptions:
        """``options`` (or the defaults) with the keyword ``given`` replacing fields.

        Example:
            >>> PlacementOptions.of(None, strategy="SPREAD").strategy
            'SPREAD'
        """
        unknown = set(given) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown placement option(s): {', '.join(sorted(unknown))}")
        for key in ("topology_labels", "rail_resources"):
            if key in given and given[key] is not None:
                given[key] = tuple(given[key])
        return replace(options or cls(), **given)
