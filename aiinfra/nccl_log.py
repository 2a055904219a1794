"""Read an NCCL_DEBUG=INFO log and say which transports NCCL actually chose.

Every NCCL line starts ``host:pid:tid [cudaDev] NCCL INFO ...``; the lines
that matter (NCCL 2.18-2.28 wording):

- ``NCCL version 2.28.9+cuda13.0``; ``Using network IB`` / ``Using network Socket``
- ``NET/IB : Using [0]mlx5_0:1/IB [1]mlx5_1:1/RoCE [RO]; OOB eth0:...`` (net device index -> HCA)
- ``ncclCommInitRank... comm 0x.. rank 0 nranks 2 cudaDev 0 ... busId 60 ... - Init START``
- ``comm 0x.. rank 0 nRanks 16 nNodes 2 localRanks 8 ...``
- ``Channel 00/0 : 0[0] -> 8[0] [send] via NET/IB/0/GDRDMA``: one connection of one channel
- ``Channel 00/24 : 0 1``, ``Ring 00 : ...``, ``Tree 0 : ...``, ``24 coll channels, ... 0 nvls channels``
- ``NVLS multicast support is (not) available``, ``NCCL_X set by environment to Y.``

Transports are classified as NET/IB (with or without GDRDMA, and which HCA),
NET/Socket (TCP: a silent fallback, an error), other NET plugins, P2P/CUMEM,
P2P/IPC, P2P/direct, SHM (host memory: wrong on an NVLink node) and CollNet/NVLS.

Example:
    >>> r = parse_nccl_log(open("tests/fixtures/nccl/2xh200-nccl2.28-torch-allreduce-allgather.log").read())
    >>> r.version, r.networks, r.transport_counts(), r.nvls
    ('2.28.9+cuda13.0', ['Socket'], {'P2P/CUMEM': 48}, 'off')
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from aiinfra.findings import Finding
from aiinfra.nccl_log_findings import log_findings

_LINE = re.compile(
    r"(?P<host>[\w.\-]+):(?P<pid>\d+):(?P<tid>\d+) \[(?P<dev>-?\d+)\] NCCL (?P<level>INFO|WARN) (?P<msg>.*)$"
)
_CONN = re.compile(
    r"^Channel (?P<ch>\d+)(?:/\d+)? : (?P<src>\d+)\[[0-9a-fx]+\] -> (?P<dst>\d+)\[[0-9a-fx]+\] "
    r"(?:\[(?P<dir>send|receive)\] )?via (?P<via>.+?)\s*$"
)
_RING_ORDER = re.compile(r"^Channel (\d+)/(\d+) :(?: \d+)+\s*$")
_INIT = re.compile(
    r"^(?:ncclCommInitRank\w* )?comm (?P<comm>0x[0-9a-f]+) rank (?P<rank>\d+) nranks (?P<nranks>\d+) "
    r"cudaDev (?P<dev>\d+)(?: nvmlDev \d+)? busId (?P<bus>[0-9a-f]+)(?: commId (?P<id>0x[0-9a-f]+))? "
    r"- Init (?:START|COMPLETE)"
)
_NNODES = re.compile(r"^comm (0x[0-9a-f]+) rank \d+ nRanks (\d+) nNodes (\d+)")
_NET_DEVS = re.compile(r"\[(\d+)\]([\w.\-]+):(\d+)/(IB|RoCE)")
_CHANNEL_SUMMARY = re.compile(r"^(\d+) coll channels, (?:(\d+) collnet channels, )?(\d+) nvls channels")
_ENV = re.compile(r"^(NCCL_\w+) set by environment to (.*?)\.?\s*$")


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


def parse_nccl_log(text: str) -> NcclLogReport:
    """Parse a whole log (all ranks interleaved, as torchrun or Ray collect them).

    Example:
        >>> r = parse_nccl_log("h:7:7 [0] NCCL INFO Channel 00/0 : 0[0] -> 1[0] [send] via NET/Socket/0")
        >>> r.transport_counts(), [f.code for f in r.findings]
        ({'NET/Socket': 1}, ['socket-fallback'])
    """
    r = NcclLogReport()
    comm_of: dict[tuple[str, str], str] = {}
    seen: set[tuple[str, int, int, int, str]] = set()
    rings: set[int] = set()
    trees: set[int] = set()
    nvls_channels: list[int] = []
    nvls_available: set[bool] = set()
    for raw in text.splitlines():
        m = _LINE.search(raw)
        if not m:
            continue
        r.nccl_lines += 1
        host, pid, msg = m["host"], m["pid"], m["msg"].strip()
        if m["level"] == "WARN":
            if msg not in r.warnings:
                r.warnings.append(msg)
            continue
        if msg.startswith("NCCL version "):
            r.version = msg.split()[2]
        elif msg.startswith("Using network "):
            net = msg.split()[2]
            if net not in r.networks:
                r.networks.append(net)
        elif msg.startswith("NET/IB : No device found"):
            r.ib_no_device = True
        elif msg.startswith("NET/IB : Using ") and (devs := _NET_DEVS.findall(msg)):
            r.net_devices[host] = [f"{name}:{port}/{ll}" for _, name, port, ll in devs]
        elif im := _INIT.match(msg):
            # Before NCCL 2.18 there is no commId and the comm pointer differs per process:
            # group those by size, so the ranks of one job still land in one communicator.
            comm = im["id"] or f"nranks={im['nranks']}"
            comm_of[(host, pid)] = comm
            rank = Rank(comm, int(im["rank"]), int(im["nranks"]), host, int(pid), int(im["dev"]), im["bus"])
            if not any(k.comm == rank.comm and k.rank == rank.rank for k in r.ranks):
                r.ranks.append(rank)  # START and COMPLETE both name the rank
        elif nm := _NNODES.match(msg):
            r.nnodes = max(r.nnodes or 0, int(nm[3]))
        elif cm := _CONN.match(msg):
            transport, gdr, dev = classify(cm["via"])
            ch, src, dst = int(cm["ch"]), int(cm["src"]), int(cm["dst"])
            key = (comm_of.get((host, pid), ""), ch, src, dst, transport)
            if key in seen:
                continue  # the receiver prints the connection the sender did ([send] / [receive])
            seen.add(key)
            r.connections.append(
                Connection(ch, src, dst, cm["via"], transport, gdr, _hca(r, host, transport, dev), host)
            )
        elif om := _RING_ORDER.match(msg):
            r.channels = max(r.channels or 0, int(om[2]))
        elif msg.startswith("Ring "):
            rings.add(int(msg.split()[1]))
        elif msg.startswith("Tree ") and msg.split()[1].isdigit():
            trees.add(int(msg.split()[1]))
        elif msg.startswith("Trees "):
            trees.update(int(t) for t in re.findall(r"\[(\d+)\]", msg))
        elif sm := _CHANNEL_SUMMARY.match(msg):
            r.channels = max(r.channels or 0, int(sm[1]))
            nvls_channels.append(int(sm[3]))
        elif "NVLS multicast support is" in msg:
            nvls_available.add("not available" not in msg)
        elif em := _ENV.match(msg):
            r.env[em[1]] = em[2]
    r.rings, r.trees = len(rings), len(trees)
    r.nvls = _nvls(r, nvls_channels, nvls_available)
    r.findings = log_findings(r)
    return r


def _hca(r: NcclLogReport, host: str, transport: str, dev: int | None) -> str | None:
    if transport != "NET/IB" or dev is None:
        return None
    devs = r.net_devices.get(host, [])
    return devs[dev].split("/")[0] if dev < len(devs) else None


def _nvls(r: NcclLogReport, channels: list[int], available: set[bool]) -> str | None:
    if any(n > 0 for n in channels):
        return "on"
    if r.env.get("NCCL_NVLS_ENABLE") == "0" or channels:
        return "off"
    if available == {False}:
        return "unavailable"
    return None
