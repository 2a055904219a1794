"""A finding: one thing a check found, with the device, severity and what to do.

Shared by the node check (:mod:`aiinfra.node.checks`) and the NCCL log
analysis (:mod:`aiinfra.nccl.log`). Errors make the CLI exit 1; warnings and
info never do.

Example:
    >>> failed([Finding("port-down", "error", "mlx5_3:1", "port state DOWN", "check the cable")])
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
TRANSPORT_KNOBS = (
    "NCCL_P2P_DISABLE",
    "NCCL_SHM_DISABLE",
    "NCCL_IB_DISABLE",
    "NCCL_P2P_LEVEL",
    "NCCL_ALGO",
    "NCCL_PROTO",
    "NCCL_NET",
)
"""Variables that change which transport or algorithm NCCL may use: fine in an experiment, never in production."""
_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    """One thing found, written for the person who has to fix it."""

    code: str
    severity: Severity
    device: str
    message: str
    action: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def failed(findings: list[Finding]) -> bool:
    """True when any finding is an error (the CLI then exits 1)."""
    return any(f.severity == "error" for f in findings)


def by_severity(findings: list[Finding]) -> list[Finding]:
    """Errors first, then warnings, then info; the order within each kept.

    Example:
        >>> [f.severity for f in by_severity([Finding("a", "info", "", "", ""), Finding("b", "error", "", "", "")])]
        ['error', 'info']
    """
    return sorted(findings, key=lambda f: _ORDER[f.severity])
