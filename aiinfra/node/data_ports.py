"""The data ports of this node: the definition's rails as found in sysfs, each with the GPUs
it serves.

Example:
    >>> from aiinfra.node.discovery import discover_node
    >>> from aiinfra.node.gpu import NoNvml
    >>> inv = discover_node("tests/fixtures/sysfs/a800-ib-degraded", nvml=NoNvml())
    >>> [p.hca for p in data_ports(None, inv)]
    ['mlx5_2', 'mlx5_4', 'mlx5_5']
"""

from __future__ import annotations

from dataclasses import dataclass

from aiinfra.definition.model import ClusterDefinition, LinkLayer
from aiinfra.node.discovery import NodeInventory
from aiinfra.node.rdma import RdmaPort


@dataclass(frozen=True)
class DataPort:
    """A port NCCL may use for data, with the GPUs it serves (empty = unknown)."""

    hca: str
    port: int
    gpus: tuple[int, ...]
    state: RdmaPort | None
    """What sysfs says about the port; None when the HCA or port is missing."""


def data_ports(d: ClusterDefinition | None, inv: NodeInventory) -> list[DataPort]:
    """The definition's rails as found on this node, or (without one) the node's usable ports.

    Example:
        >>> from aiinfra.node.discovery import discover_node
        >>> from aiinfra.node.gpu import NoNvml
        >>> inv = discover_node("tests/fixtures/sysfs/a800-ib-degraded", nvml=NoNvml())
        >>> [(p.hca, p.state.state) for p in data_ports(None, inv)]
        [('mlx5_2', 'ACTIVE'), ('mlx5_4', 'ACTIVE'), ('mlx5_5', 'ACTIVE')]
    """
    if d is not None and d.rails:
        out = []
        for rail in d.rails:
            dev = inv.device(rail.hca)
            out.append(DataPort(rail.hca, rail.port, tuple(rail.gpus), dev.port(rail.port) if dev else None))
        return out
    if d is not None:
        return []  # a definition without rails: no RDMA data path by design
    ports = [(dev.name, p) for dev in inv.rdma for p in dev.ports if p.active]
    chosen = [(n, p) for n, p in ports if p.link_layer == LinkLayer.INFINIBAND.value]
    if not chosen:
        chosen = [(n, p) for n, p in ports if p.link_layer == LinkLayer.ETHERNET.value and p.roce_v2_ipv4_gid()]
    return [DataPort(n, p.number, _nearest_gpus(inv, n), p) for n, p in chosen]


def _nearest_gpus(inv: NodeInventory, hca: str) -> tuple[int, ...]:
    dists = {g.index: inv.distance(g.index, hca) for g in inv.gpus}
    best = min((dist for dist in dists.values() if dist is not None), default=None)
    return tuple(g for g, dist in dists.items() if best is not None and dist == best)
