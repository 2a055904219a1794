"""What is wrong in a parsed NCCL log (see :mod:`aiinfra.nccl.log`).

Errors (the CLI exits 1): traffic between ranks over NET/Socket, or the
Socket network chosen for a communicator that spans nodes. Warnings: NET/IB
without GPUDirect RDMA, SHM between GPUs of one node, transport-changing
debug variables, NCCL's own WARN lines, and the Socket network picked on a
single node (harmless there, a silent fallback as soon as a second node joins).

Example:
    >>> from aiinfra.nccl.log import parse_nccl_log
    >>> r = parse_nccl_log(open("tests/fixtures/nccl/socket-fallback-2node.log").read())
    >>> [(f.severity, f.code) for f in r.findings][:1]
    [('error', 'socket-fallback')]
"""

from __future__ import annotations

from collections import Counter

from aiinfra.findings import TRANSPORT_KNOBS, Finding, by_severity
from aiinfra.nccl.log_report import NcclLogReport

_SOCKET_FIX = (
    "NCCL saw no usable RDMA device: check that the pod requested its rail resources (rdma/...), that "
    "`aiinfra node check` passes on both hosts, and that NCCL_IB_HCA matches the HCAs (`aiinfra nccl env --explain`)"
)


def log_findings(r: NcclLogReport) -> list[Finding]:
    """Findings for one report, errors first (parse_nccl_log calls it).

    Example:
        >>> from aiinfra.nccl.log_report import NcclLogReport
        >>> log_findings(NcclLogReport(nccl_lines=1))[0].code
        'no-transport-lines'
    """
    out = _socket(r) + _ib_without_gdr(r) + _shm(r) + _env(r) + _warns(r)
    if r.nccl_lines and not r.connections:
        out.append(
            Finding(
                "no-transport-lines",
                "info",
                "log",
                "no 'Channel ... via ...' lines: the log does not show which transports were used",
                "run with NCCL_DEBUG=INFO and NCCL_DEBUG_SUBSYS including INIT",
            )
        )
    return by_severity(out)


def _hosts(r: NcclLogReport) -> dict[int, str]:
    # Rank -> host of the largest communicator (the world group).
    if not r.ranks:
        return {}
    world = max(r.ranks, key=lambda k: k.nranks).comm
    return {k.rank: k.host for k in r.ranks if k.comm == world}


def _socket(r: NcclLogReport) -> list[Finding]:
    hosts = _hosts(r)
    pairs = Counter((c.src, c.dst) for c in r.connections if c.transport == "NET/Socket")
    out = [
        Finding(
            "socket-fallback",
            "error",
            f"rank {s} -> rank {d}",
            f"{n} channel(s) from rank {s} ({hosts.get(s, '?')}) to rank {d} ({hosts.get(d, '?')}) use NET/Socket: "
            "TCP through the kernel, a fraction of the RDMA bandwidth",
            _SOCKET_FIX,
        )
        for (s, d), n in sorted(pairs.items())
    ]
    if "Socket" in r.networks and not pairs:
        multi = (r.nnodes or 0) > 1 or len(set(hosts.values())) > 1
        out.append(
            Finding(
                "socket-network",
                "error" if multi else "warning",
                "network",
                "NCCL chose the Socket network"
                + (" (NET/IB : No device found)" if r.ib_no_device else "")
                + ("" if multi else "; all ranks share one node, so no data used it here")
                + ("" if not multi else " for a communicator spanning nodes"),
                _SOCKET_FIX if multi else "harmless on one node; across nodes this would be a silent TCP fallback",
            )
        )
    return out


def _ib_without_gdr(r: NcclLogReport) -> list[Finding]:
    hops = Counter(c.hca or "?" for c in r.connections if c.transport == "NET/IB" and c.gdr is False)
    return [
        Finding(
            "ib-without-gdr",
            "warning",
            hca,
            f"{n} NET/IB connection(s) on {hca} without GDRDMA: data is staged through host memory",
            "check GPUDirect with `aiinfra node check` (nvidia_peermem or DMA-BUF, GPU and HCA under one PCIe switch)",
        )
        for hca, n in sorted(hops.items())
    ]


def _shm(r: NcclLogReport) -> list[Finding]:
    hosts = {c.host for c in r.connections if c.transport == "SHM"}
    return [
        Finding(
            "shm-intra-node",
            "warning",
            host,
            "GPUs of this host exchange data via SHM (host memory), not P2P",
            "on an NVLink node P2P is disabled or broken: unset NCCL_P2P_DISABLE/NCCL_P2P_LEVEL, check "
            "`nvidia-smi topo -m` and that Fabric Manager runs",
        )
        for host in sorted(hosts)
    ]


def _env(r: NcclLogReport) -> list[Finding]:
    return [
        Finding(
            "debug-knob",
            "warning",
            name,
            f"{name}={r.env[name]} is set: it changes which transport or algorithm NCCL may use",
            "unset it for production runs (use it only in a deliberate experiment)",
        )
        for name in TRANSPORT_KNOBS
        # NCCL_IB_DISABLE=0 is NCCL's default, said out loud by aiinfra's own declared environment: no change.
        if name in r.env and not (name.endswith("_DISABLE") and r.env[name].strip() == "0")
    ]


def _warns(r: NcclLogReport) -> list[Finding]:
    return [
        Finding("nccl-warn", "warning", "nccl", w, "read NCCL's message; `aiinfra node check` covers the common causes")
        for w in r.warnings[:20]
    ]
