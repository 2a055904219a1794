"""Stray NCCL variables: transport knobs set in the environment; an error when one turns the rails off.

Example:
    >>> from aiinfra.definition import load_definition
    >>> [f.code for f in check_environ({"NCCL_IB_DISABLE": "1"}, load_definition("clusters/a800-ib.yaml"))]
    ['stray-nccl-env']
"""

from __future__ import annotations

from collections.abc import Mapping

from aiinfra.definition.model import ClusterDefinition
from aiinfra.findings import TRANSPORT_KNOBS, Finding, Severity
from aiinfra.node.checks import node_check
from aiinfra.node.discovery import NodeInventory


@node_check("environ", order=50)
def _registered(inv: NodeInventory, d: ClusterDefinition | None, environ: Mapping[str, str]) -> list[Finding]:
    return check_environ(environ, d)


def check_environ(environ: Mapping[str, str], d: ClusterDefinition | None) -> list[Finding]:
    """Transport-changing NCCL variables set in ``environ``; an error when one turns the rails off."""
    out = []
    for name in TRANSPORT_KNOBS:
        value = environ.get(name)
        if value is None:
            continue
        # Turning the network off on a node with rails is a guaranteed socket fallback.
        off = (name == "NCCL_IB_DISABLE" and value == "1") or (name == "NCCL_NET" and value.lower() == "socket")
        severity: Severity = "error" if off and d is not None and d.rails else "warning"
        out.append(
            Finding(
                "stray-nccl-env",
                severity,
                name,
                f"{name}={value} is set in this environment: it changes which transport NCCL may use",
                "unset it (image ENV, runtime_env or the job's command line) unless this is a deliberate experiment",
            )
        )
    return out
