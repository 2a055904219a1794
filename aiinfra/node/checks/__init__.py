"""Node checks: each finding names the device, how bad it is and what to do.

Errors mean NCCL will run slower than the definition promises (or fall back to sockets);
warnings are worth a look; info is context. Without a definition only what needs no
expectation is checked: ports that are down, GPU-HCA pairs on different sockets, a missing
GPUDirect path.

One module per subject registers its check with :func:`node_check`; adding a check is one
new module here (plus its test and golden), imported by :func:`check_node` automatically.

Example:
    >>> from aiinfra.definition import load_definition
    >>> from aiinfra.node.checks.example_nodes import fixture_node
    >>> inv = fixture_node("a800-ib-degraded")
    >>> [(f.code, f.device) for f in check_node(inv, load_definition("clusters/a800-ib.yaml")) if f.severity == "error"]
    [('port-down', 'mlx5_3:1'), ('rate-low', 'mlx5_4:1')]
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiinfra.definition.model import ClusterDefinition
from aiinfra.findings import Finding, by_severity, failed
from aiinfra.node.discovery import NodeInventory

__all__ = [
    "Finding", "NodeCheck", "check_node", "failed", "node_check", "registered_checks", "uses_gpudirect", "uses_rdma",
]  # fmt: skip

CheckFn = Callable[[NodeInventory, ClusterDefinition | None, Mapping[str, str]], list[Finding]]


@dataclass(frozen=True)
class NodeCheck:
    name: str
    order: int
    """Position in the report before sorting by severity (findings of equal severity keep it)."""
    run: CheckFn


_REGISTRY: dict[str, NodeCheck] = {}


def node_check(name: str, order: int) -> Callable[[CheckFn], CheckFn]:
    """Register a check function ``(inventory, definition or None, environ) -> findings``.

    Example:
        >>> @node_check("example", order=999)
        ... def _example(inv, d, environ):
        ...     return []
        >>> "example" in [c.name for c in registered_checks()]
        True
        >>> _ = _REGISTRY.pop("example")
    """

    def add(fn: CheckFn) -> CheckFn:
        _REGISTRY[name] = NodeCheck(name, order, fn)
        return fn

    return add


def uses_rdma(inv: NodeInventory, d: ClusterDefinition | None) -> bool:
    """True when the node's jobs move data over RDMA: the definition has rails, else some port is ACTIVE.

    Example:
        >>> uses_rdma(NodeInventory("/", (), (), {}, None, ()), None)  # type: ignore[arg-type]
        False
    """
    return bool(d.rails) if d is not None else any(p.active for dev in inv.rdma for p in dev.ports)


def uses_gpudirect(inv: NodeInventory, d: ClusterDefinition | None) -> bool:
    """True when RDMA is in use (:func:`uses_rdma`) and the node has GPUs: GPUDirect RDMA then moves the data,
    and the checks of its path (driver support, IOMMU, ACS) have something to judge.

    Example:
        >>> uses_gpudirect(NodeInventory("/", (), (), {}, None, ()), None)  # type: ignore[arg-type]
        False
    """
    return uses_rdma(inv, d) and bool(inv.gpus)


def registered_checks() -> list[NodeCheck]:
    """Every check of this package, in report order (importing the check modules registers them)."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return sorted(_REGISTRY.values(), key=lambda c: (c.order, c.name))


def check_node(
    inv: NodeInventory, d: ClusterDefinition | None = None, environ: Mapping[str, str] | None = None
) -> list[Finding]:
    """All findings for this node, errors first; ``environ`` (e.g. os.environ) is checked for stray NCCL knobs.

    Example:
        >>> from aiinfra.node.checks.example_nodes import fixture_node
        >>> [f.code for f in check_node(fixture_node("h200-vm"))]
        ['no-rdma']
    """
    out: list[Finding] = []
    for check in registered_checks():
        out.extend(check.run(inv, d, environ or {}))
    return by_severity(out)
