"""What NCCL says it used, from the NCCL_DEBUG=INFO log the benchmark processes wrote.

:mod:`aiinfra.nccl.log` is the full parser; when it is importable its summary
is used. The small reader below is the seam until then, and the fallback
where that module is not shipped: it reads only the lines a benchmark
verdict needs (the NCCL version, the network plugin chosen, the transport of
each channel, NVLS and channel counts).

Example:
    >>> s = summarize("h:1:1 [0] NCCL INFO NCCL version 2.28.9+cuda13.0\\n"
    ...               "h:1:1 [0] NCCL INFO Channel 00/0 : 0[0] -> 1[1] via P2P/CUMEM\\n")
    >>> s["nccl_version"], s["transports"]
    ('2.28.9+cuda13.0', {'P2P/CUMEM': 1})
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

_VERSION = re.compile(r"NCCL INFO NCCL version (\S+)")
_NETWORK = re.compile(r"NCCL INFO Using network (\S+)")
_VIA = re.compile(r"NCCL INFO Channel \d+/\d+ : \d+\[\d+\] -> \d+\[\d+\](?:\s*\[\w+\])? via (\S+)")
_CHANNELS = re.compile(r"NCCL INFO (\d+) coll channels, (?:\d+ collnet channels, )?(\d+) nvls channels")
_NVLS_ENV = re.compile(r"NCCL_NVLS_ENABLE set by environment to (\d)")
_IB_USING = re.compile(r"NCCL INFO NET/IB : Using (.*?)(?:; OOB|$)")
_NO_IB = "NET/IB : No device found"


def summarize(log: str) -> dict[str, Any]:
    """A JSON-ready summary of the transports in an NCCL INFO log (several ranks' logs may be joined).

    Keys: nccl_version, network (e.g. 'IB', 'Socket'), transports (channel
    transport -> count, e.g. 'P2P/CUMEM', 'SHM', 'NET/IB/0/GDRDMA'), coll_channels,
    nvls_channels, nvls_env, ib_devices, socket_fallback (True when NCCL moved data
    over sockets although the log shows it looked for IB), warnings.

    Example:
        >>> summarize("")["transports"]
        {}
    """
    parsed = _from_nccl_log(log)
    if parsed is not None:
        return parsed
    versions = sorted(set(_VERSION.findall(log)))
    networks = sorted(set(_NETWORK.findall(log)))
    via = Counter(_VIA.findall(log))
    channels = _CHANNELS.findall(log)
    nvls_env = sorted(set(_NVLS_ENV.findall(log)))
    ib_devices = sorted({d.strip() for d in _IB_USING.findall(log) if d.strip() and "[RO]" not in d})
    net_via = [t for t in via if t.startswith("NET/")]
    socket_data = any(t.startswith("NET/Socket") for t in net_via)
    warnings = []
    if socket_data:
        warnings.append("NCCL sent data over NET/Socket: no RDMA between these ranks (check NCCL_IB_HCA, rdma devices)")
    return {
        "parser": "aiinfra.bench.transports",
        "nccl_version": versions[0] if len(versions) == 1 else versions,
        "network": networks[0] if len(networks) == 1 else networks,
        "transports": dict(sorted(via.items())),
        "coll_channels": max((int(c) for c, _ in channels), default=None),
        "nvls_channels": max((int(v) for _, v in channels), default=None),
        "nvls_env": nvls_env[0] if len(nvls_env) == 1 else nvls_env,
        "ib_devices": ib_devices,
        "ib_found": _NO_IB not in log and bool(ib_devices),
        "socket_fallback": socket_data,
        "warnings": warnings,
    }


def _from_nccl_log(log: str) -> dict[str, Any] | None:
    """The same summary from :func:`aiinfra.nccl.log.parse_nccl_log`, when that module is importable.

    It also names the HCA and GDR use of every network connection and turns the log's
    problems (socket fallback, SHM inside an NVLink node) into findings.
    """
    try:
        from aiinfra.nccl.log import parse_nccl_log
    except Exception:  # not shipped, or broken while being edited: the reader above still answers
        return None
    r = parse_nccl_log(log)
    counts = r.transport_counts()
    findings = [f"{f.severity}: {f.message} ({f.action})" for f in getattr(r, "findings", [])]
    return {
        "nccl_version": r.version,
        "network": r.networks[0] if len(r.networks) == 1 else r.networks,
        "transports": dict(sorted(counts.items())),
        "pairs": {f"{s}->{d}": v for (s, d), v in r.pairs().items()},
        "coll_channels": r.channels,
        "rings": r.rings,
        "trees": r.trees,
        "nvls": r.nvls,
        "nvls_env": r.env.get("NCCL_NVLS_ENABLE"),
        "ib_devices": sorted({d for devs in r.net_devices.values() for d in devs}),
        "ib_found": not r.ib_no_device and bool(r.net_devices),
        "socket_fallback": any(t.startswith("NET/Socket") for t in counts),
        "warnings": [*r.warnings, *findings],
        "parser": "aiinfra.nccl_log",
    }
