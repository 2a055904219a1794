"""IOMMU translation on the GPUs and rail HCAs: GPUDirect RDMA wants the IOMMU off or in passthrough.

With DMA translation on, a peer-to-peer write from the HCA to GPU memory goes through the IOMMU (and
with ACS, through the root complex): NCCL's troubleshooting guide names it as a cause of poor
bandwidth or hangs and asks for passthrough (``iommu=pt``) or the IOMMU off on bare metal.
The kernel shows each device's translation in ``<root>/sys/bus/pci/devices/<bdf>/iommu_group/type``:
'identity' is passthrough, 'DMA' and 'DMA-FQ' translate; no ``iommu_group`` means no IOMMU for the
device. The IOMMU units are under ``/sys/class/iommu`` and the boot options in ``/proc/cmdline``.

Example:
    >>> kernel_iommu_options("BOOT_IMAGE=/vmlinuz ro intel_iommu=on iommu=pt quiet")
    'intel_iommu=on iommu=pt'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aiinfra.definition.model import ClusterDefinition
from aiinfra.findings import Finding
from aiinfra.node.checks import node_check, uses_gpudirect
from aiinfra.node.discovery import NodeInventory
from aiinfra.node.pcie import normalize_bdf
from aiinfra.node.sysfs import entries, read

TRANSLATING = {"DMA", "DMA-FQ"}
_OPTIONS = ("iommu", "intel_iommu", "amd_iommu", "iommu.passthrough", "iommu.strict")


@node_check("iommu", order=62)
def _registered(inv: NodeInventory, d: ClusterDefinition | None, environ: Mapping[str, str]) -> list[Finding]:
    return check_iommu(inv, d)


def kernel_iommu_options(cmdline: str) -> str:
    """The IOMMU options of a kernel command line, space-separated ('' when none)."""
    return " ".join(w for w in cmdline.split() if w.split("=", 1)[0] in _OPTIONS)


def rail_devices(inv: NodeInventory, d: ClusterDefinition | None) -> dict[str, str]:
    """Name -> PCI address of the GPUs and the rail HCAs (the definition's, else those with an active port).

    Example:
        >>> rail_devices(NodeInventory("/", (), (), {}, None, ()), None)  # type: ignore[arg-type]
        {}
    """
    hcas = {r.hca for r in d.rails} if d is not None else {h.name for h in inv.rdma if any(p.active for p in h.ports)}
    out = {f"GPU{g.index}": normalize_bdf(g.pci_bus_id) for g in inv.gpus}
    out.update({h.name: h.pci_bus_id for h in inv.rdma if h.name in hcas and h.pci_bus_id})
    return out


def check_iommu(inv: NodeInventory, d: ClusterDefinition | None) -> list[Finding]:
    """An error for each GPU or rail HCA whose IOMMU group translates DMA, when RDMA is in use.

    Example:
        >>> from aiinfra.definition import load_definition
        >>> from aiinfra.node.checks.example_nodes import fixture_node
        >>> inv = fixture_node("a800-ib")
        >>> sorted(rail_devices(inv, None))[:3], check_iommu(inv, load_definition("clusters/a800-ib.yaml"))
        (['GPU0', 'GPU1', 'GPU2'], [])
    """
    if not uses_gpudirect(inv, d):
        return []
    root = Path(inv.sysfs_root)
    units = ", ".join(p.name for p in entries(root / "sys" / "class" / "iommu")) or "none listed"
    options = kernel_iommu_options(read(root / "proc" / "cmdline")) or "no IOMMU options"
    out = []
    for name, bdf in rail_devices(inv, d).items():
        kind = read(root / "sys" / "bus" / "pci" / "devices" / bdf / "iommu_group" / "type")
        if kind in TRANSLATING:
            out.append(
                Finding(
                    "iommu-translation",
                    "error",
                    f"{name} ({bdf})",
                    f"the IOMMU translates this device's DMA (group type {kind}; units {units}; "
                    f"kernel: {options}): GPUDirect RDMA peer-to-peer slows down or hangs",
                    "boot with iommu=pt (intel_iommu=on iommu=pt, or amd_iommu=on iommu=pt), "
                    "or turn VT-d / AMD-Vi off in the BIOS on bare metal",
                )
            )
    return out
