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

from aiinfra.nccl.log_findings import log_findings
from aiinfra.nccl.log_report import Connection, NcclLogReport, Rank, classify

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
