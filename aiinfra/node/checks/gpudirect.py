"""The GPUDirect RDMA check: RDMA in use needs nvidia_peermem or a DMA-BUF capable driver.

Example:
    >>> from aiinfra.node.discovery import GpuDirectSupport, NodeInventory
    >>> check_gpudirect(NodeInventory("/", (), (), {}, GpuDirectSupport(False, False, None, None, None), ()), None)
    []
"""

from __future__ import annotations

from collections.abc import Mapping

from aiinfra.definition.model import ClusterDefinition
from aiinfra.findings import Finding
from aiinfra.node.checks import node_check, uses_gpudirect
from aiinfra.node.discovery import NodeInventory
from aiinfra.node.gpudirect import choose_gpudirect

_GDR_FIX = (
    "use the open kernel module with Linux >= 5.12 for DMA-BUF (GPU Operator driver.kernelModuleType=open), "
    "or load nvidia_peermem (`modprobe nvidia-peermem`; GPU Operator driver.rdma.enabled=true)"
)


@node_check("gpudirect", order=30)
def _registered(inv: NodeInventory, d: ClusterDefinition | None, environ: Mapping[str, str]) -> list[Finding]:
    return check_gpudirect(inv, d)


def check_gpudirect(inv: NodeInventory, d: ClusterDefinition | None) -> list[Finding]:
    """An error when RDMA is in use but neither nvidia_peermem nor DMA-BUF is available.

    Example:
        >>> from aiinfra.node.discovery import GpuDirectSupport
        >>> check_gpudirect(NodeInventory("/", (), (), {}, GpuDirectSupport(False, False, None, None, None), ()), None)
        []
    """
    if not uses_gpudirect(inv, d):
        return []
    s = inv.gpudirect
    choice = choose_gpudirect(d.network.gpudirect if d is not None else None, s)
    if choice.path == "none":
        return [
            Finding(
                "no-gpudirect",
                "error",
                "node",
                "no GPUDirect RDMA path: nvidia_peermem is not loaded and the driver is not DMA-BUF capable"
                + (f" ({'; '.join(s.notes)})" if s.notes else ""),
                _GDR_FIX,
            )
        ]
    if choice.mismatch:
        return [
            Finding(
                "gpudirect-mode",
                "warning",
                "node",
                "the definition asks for DMA-BUF; this node only has nvidia_peermem (" + "; ".join(s.notes) + ")",
                "switch the node to the open kernel module, or set network.gpudirect: peermem",
            )
        ]
    return []
