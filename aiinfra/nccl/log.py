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
from collections.abc import Iterable, Iterator
from typing import IO

from aiinfra.findings import Finding, by_severity
from aiinfra.nccl.log_findings import log_findings
from aiinfra.nccl.log_report import Connection, NcclLogReport, Rank, classify

# Every pattern here runs in time linear in the line: the header is found by a literal
# (" NCCL INFO "), then the fixed-size window before it is matched backwards with anchored,
# possessive patterns; patterns on the message are anchored and possessive, and nothing
# ends in a lazy group followed by optional whitespace (the quadratic shape).
_MARK = re.compile(r" NCCL (INFO|WARN) ")
_HEAD_WINDOW = 300
"""Characters before the mark that can hold 'host:pid:tid [dev]' (a host name is at most 253)."""
_HEAD_REVERSED = re.compile(r"\](?P<dev>\d++-?)\[ (?P<tid>\d++):(?P<pid>\d++):(?P<host>[\w.\-]++)")
_CONN = re.compile(
    r"Channel (?P<ch>\d++)(?:/\d++)? : (?P<src>\d++)\[[0-9a-fx]++\] -> (?P<dst>\d++)\[[0-9a-fx]++\] "
    r"(?:\[(?P<dir>send|receive)\] )?via (?P<via>.+)"
)
_RING_ORDER = re.compile(r"Channel (\d++)/(\d++) :(?: \d++)++$")
_INIT = re.compile(
    r"(?:ncclCommInitRank\w*+ )?comm (?P<comm>0x[0-9a-f]++) rank (?P<rank>\d++) nranks (?P<nranks>\d++) "
    r"cudaDev (?P<dev>\d++)(?: nvmlDev \d++)? busId (?P<bus>[0-9a-f]++)(?: commId (?P<id>0x[0-9a-f]++))? "
    r"- Init (?:START|COMPLETE)"
)
_NNODES = re.compile(r"comm (0x[0-9a-f]++) rank \d++ nRanks (\d++) nNodes (\d++)")
_NET_DEVS = re.compile(r"\[(\d++)\]([\w.\-]++):(\d++)/(IB|RoCE)")
_CHANNEL_SUMMARY = re.compile(r"(\d++) coll channels, (?:(\d++) collnet channels, )?(\d++) nvls channels")
_ENV = re.compile(r"(NCCL_\w++) set by environment to (.*)")
MAX_LINE = 1 << 20
"""Characters of one line that are read; the rest of a longer line is skipped (NCCL lines are short)."""
_MAX_WARNINGS = 1000
_MAX_DIGITS = 12


class _Malformed(ValueError):
    """A line in NCCL's shape with a number no NCCL prints (e.g. a 5,000-digit channel)."""


def parse_nccl_log(text: str) -> NcclLogReport:
    """Parse a whole log (all ranks interleaved, as torchrun or Ray collect them).

    Example:
        >>> r = parse_nccl_log("h:7:7 [0] NCCL INFO Channel 00/0 : 0[0] -> 1[0] [send] via NET/Socket/0")
        >>> r.transport_counts(), [f.code for f in r.findings]
        ({'NET/Socket': 1}, ['socket-fallback'])
    """
    return parse_nccl_lines(text.splitlines())


def read_lines(stream: IO[str], limit: int = MAX_LINE) -> Iterator[str]:
    """The lines of ``stream``, each cut to ``limit`` characters, never holding more than one in memory.

    Example:
        >>> import io
        >>> list(read_lines(io.StringIO("ab\\ncdefg\\nh"), limit=3))
        ['ab', 'cde', 'h']
    """
    while True:
        line = stream.readline(limit)
        if not line:
            return
        if not line.endswith(("\n", "\r")) and len(line) == limit:
            while (rest := stream.readline(limit)) and not rest.endswith(("\n", "\r")):
                pass  # the tail of an over-long line: skipped, a chunk at a time
        yield line.rstrip("\r\n")


def parse_nccl_lines(lines: Iterable[str]) -> NcclLogReport:
    """Parse a log given line by line (a file object or :func:`read_lines`); memory does not grow with the log.

    Example:
        >>> parse_nccl_lines(["h:7:7 [0] NCCL INFO NCCL version 2.28.9+cuda13.0"]).version
        '2.28.9+cuda13.0'
    """
    state = _State()
    for number, raw in enumerate(lines, 1):
        head = _header(raw)
        if head is None:
            continue
        state.report.nccl_lines += 1
        try:
            state.add(*head)
        except _Malformed:
            state.malformed += 1
            state.first_malformed = state.first_malformed or number
    return state.finish()


def _header(raw: str) -> tuple[str, str, str, str] | None:
    """(host, pid, level, message) of an NCCL line, else None."""
    mark = _MARK.search(raw)
    if mark is None:
        return None
    start = mark.start()
    head = _HEAD_REVERSED.match(raw[max(0, start - _HEAD_WINDOW) : start][::-1])
    if head is None:
        return None
    return head["host"][::-1], head["pid"][::-1], mark[1], raw[mark.end() :].strip()


def _int(text: str) -> int:
    if len(text) > _MAX_DIGITS:
        raise _Malformed(text)
    return int(text)


def _ordinal(msg: str) -> int:
    """N of 'Ring N : ...' / 'Tree N : ...', -1 when the second word is no number."""
    parts = msg.split(maxsplit=2)
    return _int(parts[1]) if len(parts) > 1 and parts[1].isdecimal() else -1


class _State:
    """What one pass over the lines accumulates."""

    def __init__(self) -> None:
        self.report = NcclLogReport()
        self.comm_of: dict[tuple[str, str], str] = {}
        self.seen: set[tuple[str, int, int, int, str]] = set()
        self.ranks: set[tuple[str, int]] = set()
        self.warnings: set[str] = set()
        self.rings: set[int] = set()
        self.trees: set[int] = set()
        self.nvls_channels: list[int] = []
        self.nvls_available: set[bool] = set()
        self.malformed = 0
        self.first_malformed: int | None = None

    def add(self, host: str, pid: str, level: str, msg: str) -> None:
        r = self.report
        if level == "WARN":
            if msg not in self.warnings and len(self.warnings) < _MAX_WARNINGS:
                self.warnings.add(msg)
                r.warnings.append(msg)
            return
        if msg.startswith("NCCL version "):
            r.version = (msg.split()[2:3] or ["?"])[0]
        elif msg.startswith("Using network "):
            net = (msg.split()[2:3] or ["?"])[0]
            if net not in r.networks:
                r.networks.append(net)
        elif msg.startswith("NET/IB : No device found"):
            r.ib_no_device = True
        elif msg.startswith("NET/IB : Using ") and (devs := _NET_DEVS.findall(msg)):
            r.net_devices[host] = [f"{name}:{_int(port)}/{ll}" for _, name, port, ll in devs]
        elif im := _INIT.match(msg):
            self._init(host, pid, im)
        elif nm := _NNODES.match(msg):
            r.nnodes = max(r.nnodes or 0, _int(nm[3]))
        elif cm := _CONN.match(msg):
            self._connection(host, pid, cm)
        elif om := _RING_ORDER.match(msg):
            r.channels = max(r.channels or 0, _int(om[2]))
        elif msg.startswith("Ring "):
            self.rings.add(_ordinal(msg))
        elif msg.startswith("Tree ") and (n := _ordinal(msg)) >= 0:
            self.trees.add(n)
        elif msg.startswith("Trees "):
            self.trees.update(_int(t) for t in re.findall(r"\[(\d++)\]", msg))
        elif sm := _CHANNEL_SUMMARY.match(msg):
            r.channels = max(r.channels or 0, _int(sm[1]))
            self.nvls_channels.append(_int(sm[3]))
        elif "NVLS multicast support is" in msg:
            self.nvls_available.add("not available" not in msg)
        elif em := _ENV.match(msg):
            value = em[2].rstrip()
            r.env[em[1]] = value[:-1].rstrip() if value.endswith(".") else value

    def _init(self, host: str, pid: str, im: re.Match[str]) -> None:
        # Before NCCL 2.18 there is no commId and the comm pointer differs per process:
        # group those by size, so the ranks of one job still land in one communicator.
        comm = im["id"] or f"nranks={_int(im['nranks'])}"
        self.comm_of[(host, pid)] = comm
        rank = Rank(comm, _int(im["rank"]), _int(im["nranks"]), host, _int(pid), _int(im["dev"]), im["bus"])
        if (rank.comm, rank.rank) not in self.ranks:  # START and COMPLETE both name the rank
            self.ranks.add((rank.comm, rank.rank))
            self.report.ranks.append(rank)

    def _connection(self, host: str, pid: str, cm: re.Match[str]) -> None:
        r = self.report
        try:
            transport, gdr, dev = classify(cm["via"])
        except ValueError:
            raise _Malformed(cm["via"]) from None
        ch, src, dst = _int(cm["ch"]), _int(cm["src"]), _int(cm["dst"])
        key = (self.comm_of.get((host, pid), ""), ch, src, dst, transport)
        if key in self.seen:
            return  # the receiver prints the connection the sender did ([send] / [receive])
        self.seen.add(key)
        r.connections.append(Connection(ch, src, dst, cm["via"], transport, gdr, _hca(r, host, transport, dev), host))

    def finish(self) -> NcclLogReport:
        r = self.report
        r.rings, r.trees = len(self.rings), len(self.trees)
        r.nvls = _nvls(r, self.nvls_channels, self.nvls_available)
        findings = log_findings(r)
        if self.malformed:
            findings.append(
                Finding(
                    "malformed-lines",
                    "warning",
                    "log",
                    f"{self.malformed} NCCL line(s) with numbers no NCCL prints were skipped "
                    f"(first at line {self.first_malformed})",
                    "check that the log is an unmodified NCCL_DEBUG=INFO capture",
                )
            )
        r.findings = by_severity(findings)
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
