"""A JSON-ready summary of what NCCL says it used, for benchmark reports.

Built on :func:`aiinfra.nccl.log.parse_nccl_log` (the one NCCL log parser): the NCCL
version, the network chosen, the transport of each channel with its HCA and GDR use,
NVLS and channel counts, and the log's problems (socket fallback, SHM inside an NVLink node).

Example:
    >>> s = summarize("h:1:1 [0] NCCL INFO NCCL version 2.28.9+cuda13.0\\n"
    ...               "h:1:1 [0] NCCL INFO Channel 00/0 : 0[0] -> 1[1] via P2P/CUMEM\\n")
    >>> s["nccl_version"], s["transports"]
    ('2.28.9+cuda13.0', {'P2P/CUMEM': 1})
"""

from __future__ import annotations

from typing import Any

from aiinfra.nccl.log import parse_nccl_log


def summarize(log: str) -> dict[str, Any]:
    """Summarise an NCCL INFO log (several ranks' logs may be joined).

    Keys: nccl_version, network (e.g. 'IB', 'Socket'), transports (class -> connections),
    pairs, coll_channels, rings, trees, nvls, nvls_env, ib_devices, ib_found,
    socket_fallback (NCCL moved data over sockets), warnings.

    Example:
        >>> summarize("")["transports"]
        {}
    """
    r = parse_nccl_log(log)
    counts = r.transport_counts()
    findings = [f"{f.severity}: {f.message} ({f.action})" for f in r.findings]
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
        "parser": "aiinfra.nccl.log",
    }
