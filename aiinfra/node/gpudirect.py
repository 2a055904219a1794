"""Which GPUDirect RDMA path a node will use: the one decision behind both the node's NCCL
environment (:mod:`aiinfra.nccl.node_env`) and the node check (:mod:`aiinfra.node.checks.gpudirect`).

Example:
    >>> from aiinfra.node.discovery import GpuDirectSupport
    >>> choose_gpudirect(None, GpuDirectSupport(True, True, "6.8", "580", True)).path
    'dmabuf'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiinfra.definition.model import GpuDirect
from aiinfra.node.discovery import GpuDirectSupport
from aiinfra.node.pcie import PciDistance

GdrPath = Literal["dmabuf", "peermem", "off", "none"]
"""dmabuf / peermem: the path used; off: disabled by the definition; none: the node offers no path."""


@dataclass(frozen=True)
class GpuDirectChoice:
    path: GdrPath
    why: str
    mismatch: bool = False
    """The definition asked for DMA-BUF and the node can only do nvidia_peermem."""


def choose_gpudirect(wanted: GpuDirect | None, support: GpuDirectSupport) -> GpuDirectChoice:
    """The GPUDirect path for a node offering ``support`` when the definition wants ``wanted``.

    DMA-BUF wins where the driver can do it, unless the definition asks for nvidia_peermem
    and it is loaded.

    Example:
        >>> from aiinfra.node.discovery import GpuDirectSupport
        >>> c = choose_gpudirect(GpuDirect.DMABUF, GpuDirectSupport(True, False, "5.4", "535", False))
        >>> c.path, c.mismatch
        ('peermem', True)
    """
    if wanted == GpuDirect.OFF:
        return GpuDirectChoice("off", "network.gpudirect: off in the definition; stage via host")
    if not support.available:
        why = "no GPUDirect path on this node (nvidia_peermem not loaded, driver not DMA-BUF capable); stage via host"
        return GpuDirectChoice("none", why)
    if support.dmabuf_capable and (wanted != GpuDirect.PEERMEM or not support.peermem_loaded):
        return GpuDirectChoice("dmabuf", "open kernel module and Linux >= 5.12: GPUDirect via DMA-BUF")
    why = "GPUDirect via nvidia_peermem (loaded)"
    mismatch = wanted == GpuDirect.DMABUF
    if mismatch:
        why += "; the definition asks for DMA-BUF but this node's driver cannot do it"
    return GpuDirectChoice("peermem", why, mismatch)


GdrReach = Literal["switch", "root-complex", "beyond"]


def gdr_reach(dist: PciDistance) -> GdrReach:
    """How far GPUDirect RDMA reaches between a GPU and an HCA at PCIe distance ``dist``.

    switch: NCCL's default (NCCL_NET_GDR_LEVEL=PXB) uses GDR; root-complex: only with
    NCCL_NET_GDR_LEVEL=PHB; beyond: across root complexes or sockets, GDR is not used.

    Example:
        >>> [gdr_reach(d) for d in (PciDistance.PIX, PciDistance.PHB, PciDistance.SYS)]
        ['switch', 'root-complex', 'beyond']
    """
    if dist <= PciDistance.PXB:
        return "switch"
    if dist <= PciDistance.PHB:
        return "root-complex"
    return "beyond"
