"""What an NCCL log says: ranks, connections per channel and their transports, the report.

:mod:`aiinfra.nccl.log` fills it from a log; :mod:`aiinfra.nccl.log_findings` judges it.

Example:
    >>> classify("NET/IB/0/GDRDMA")
    ('NET/IB', True, 0)
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from aiinfra.findings import Finding


@dataclass(frozen=True)
class Rank:
    """One rank of a communicator and where it ran."""

    comm: str
    rank: int
    nranks: int
    host: str
    pid: int
    cuda_dev: int
    bus_id: str


@dataclass(frozen=True)
class Connection:
    """One channel's connection from ``src`` to ``dst`` rank."""

    channel: int
    src: int
    dst: int
    via: str
    """As NCCL printed it, e.g. 'NET/IB/0/GDRDMA' or 'P2P/CUMEM/read'."""
    transport: str
    """Class: 'NET/IB', 'NET/Socket', 'P2P/CUMEM', 'P2P/IPC', 'SHM', ..."""
    gdr: bool | None
    """GPUDirect RDMA on a NET/IB hop; None for other transports."""
    hca: str | None
    host: str


@dataclass
class NcclLogReport:
    """What a log says about one run."""

    nccl_lines: int = 0
    version: str | None = None
    networks: list[str] = field(default_factory=list)
    """'IB', 'Socket', ... from 'Using network X' (one per distinct value)."""
    ib_no_device: bool = False
    net_devices: dict[str, list[str]] = field(default_factory=dict)
    """host -> ['mlx5_0:1/IB', ...] from 'NET/IB : Using'."""
    ranks: list[Rank] = field(default_factory=list)
    nnodes: int | None = None
    connections: list[Connection] = field(default_factory=list)
    channels: int | None = None
    rings: int = 0
    trees: int = 0
    nvls: str | None = None
    """'on', 'off', 'unavailable' or None (the log does not say)."""
    env: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def transport_counts(self) -> dict[str, int]:
        """Connections per transport class (a connection = one channel, one direction)."""
        return dict(Counter(c.transport for c in self.connections))

    def pairs(self) -> dict[tuple[int, int], dict[str, int]]:
        """(src, dst) -> {transport: channels}."""
        out: dict[tuple[int, int], Counter[str]] = {}
        for c in self.connections:
            key = c.transport + ("/GDRDMA" if c.gdr else "") + (f" {c.hca}" if c.hca else "")
            out.setdefault((c.src, c.dst), Counter())[key] += 1
        return {k: dict(v) for k, v in sorted(out.items())}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["connections"] = [{"src": s, "dst": t, "transports": v} for (s, t), v in self.pairs().items()]
        d["transport_counts"] = self.transport_counts()
        return d


def classify(via: str) -> tuple[str, bool | None, int | None]:
    """(transport class, GDR, net device index) of a 'via' field.

    Example:
        >>> classify("NET/IB/3(1)/GDRDMA/Shared")
        ('NET/IB', True, 3)
        >>> classify("P2P/CUMEM/read")
        ('P2P/CUMEM', None, None)
    """
    m = re.match(r"NET/([^/]+)/(\d+)(?:\(\d+\))?(.*)$", via)
    if m:
        plugin, dev, rest = m.groups()
        gdr = "GDRDMA" in rest.split("/") if plugin == "IB" else None
        return f"NET/{plugin}", gdr, int(dev)
    head, _, rest = via.partition("/")
    if head == "P2P":
        sub = rest.split("/")[0]
        return f"P2P/{'direct' if sub.startswith('direct') else sub}", None, None
    if head == "SHM":
        return "SHM", None, None
    return head, None, None
