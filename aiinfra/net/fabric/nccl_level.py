"""Level 3 through NCCL on a Ray cluster: every rail between nodes (pairing localisation), then NVLink inside nodes.

What ``aiinfra net test --ray ADDRESS --cluster FILE --nccl`` runs. The rails are measured by
:class:`~aiinfra.net.fabric.nccl_plane.NcclRailPlane` (one process per rail per node, ``NCCL_IB_HCA`` pinned)
and localised like every other data plane; NCCL's transports come from its logs; then the rail actors are gone
and :func:`~aiinfra.net.fabric.nvlink_level.nvlink_level` measures each node's GPUs together. A cluster with one
GPU node has no pair: its rails are not measured (said in a note), its NVLink is.

Example:
    >>> level = nccl_level("auto", d, line_gb_s=25.0, screen=2)              # doctest: +SKIP
    >>> level.loc.faults, level.transports, level.nvlink                     # doctest: +SKIP
    ([], [], [])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiinfra.definition.model import ClusterDefinition
from aiinfra.findings import Finding
from aiinfra.net.fabric.localise import Localisation, LocaliseConfig, localise
from aiinfra.net.fabric.simulate import FLOOR


@dataclass
class NcclLevel:
    """What the rails' localisation found (None: fewer than 2 GPU nodes), transport and NVLink findings, notes."""

    loc: Localisation | None
    transports: list[Finding] = field(default_factory=list)
    nvlink: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    socket_nodes: list[str] = field(default_factory=list)
    """Nodes where NCCL moved a rail's data over sockets (the report's socket-fallback metric)."""


def nccl_level(address: str | None, d: ClusterDefinition, line_gb_s: float, screen: int | None, seed: int = 0,
               backend: str = "nccl", nvlink_expect_gb_s: float | None = None) -> NcclLevel:
    """Rails, then NVLink, on the Ray cluster at ``address`` (``screen`` None: every pair in the screen)."""
    import ray

    from aiinfra.net.fabric.nccl_plane import NcclRailPlane
    from aiinfra.net.fabric.node_level_ray import connect_ray, gpu_nodes
    from aiinfra.net.fabric.nvlink_level import nvlink_level

    own = connect_ray(address)
    try:
        level = NcclLevel(None)
        if len(gpu_nodes(ray.nodes())) >= 2:
            with NcclRailPlane.start(address, d, backend=backend) as plane:
                rounds = len(plane.names) - 1 if screen is None else screen
                level.loc = localise(plane.names, plane.rails, plane.measure,
                                     LocaliseConfig(FLOOR * line_gb_s, rounds, seed=seed))
                level.transports = plane.findings()
                level.notes += plane.notes
        else:
            level.notes.append("rails: fewer than 2 GPU nodes, no pair to measure between nodes")
        level.socket_nodes = sorted({f.device.split(":")[0] for f in level.transports
                                     if f.code == "nccl-socket-fallback"})
        nvlink = nvlink_level(d, backend=backend, expect_gb_s=nvlink_expect_gb_s)
        level.nvlink, level.notes = nvlink.findings, level.notes + nvlink.notes
        return level
    finally:
        if own and ray.is_initialized():
            ray.shutdown()
