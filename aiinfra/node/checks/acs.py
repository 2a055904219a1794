"""PCIe Access Control Services on the bridges between each GPU and its rail HCA.

ACS P2P Request/Completion Redirect and Egress Control on a switch or root port send peer-to-peer
traffic up to the root complex instead of across the switch: GPUDirect RDMA then runs far below line
rate or hangs. NCCL's troubleshooting guide says to disable ACS on bare metal (``lspci -vvv`` should
show ``ACSCtl: SrcValid- ... ReqRedir- CmpltRedir-``). sysfs has no ACS attribute: this reads the
extended configuration space, ``<root>/sys/bus/pci/devices/<bdf>/config``, walks the extended
capability list from 0x100 (header: ID in bits 0-15, next offset in bits 20-31) to the ACS capability
(ID 0x000D) and reads its control register at +6. Only root (CAP_SYS_ADMIN) reads past the first 64
bytes of ``config``; otherwise the check says so as info.

Example:
    >>> from aiinfra.sim.kernel_files import pci_bridge_config
    >>> acs_control(pci_bridge_config(0x1D)), acs_control(bytes(64))
    (29, None)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from aiinfra.definition.model import ClusterDefinition
from aiinfra.findings import Finding
from aiinfra.node.checks import node_check, uses_gpudirect
from aiinfra.node.discovery import NodeInventory
from aiinfra.node.pcie import PciDistance, locate, normalize_bdf

ACS_ID = 0x000D
EXTENDED = 0x100
CONFIG_SIZE = 4096
# ACS control bits (PCIe base spec, ACS Extended Capability) that move P2P off the switch.
REDIRECTING = {2: "ReqRedir", 3: "CmpltRedir", 5: "EgressCtrl"}
NAMES = {
    0: "SrcValid",
    1: "TransBlk",
    2: "ReqRedir",
    3: "CmpltRedir",
    4: "UpstreamFwd",
    5: "EgressCtrl",
    6: "DirectTrans",
}


@node_check("acs", order=63)
def _registered(inv: NodeInventory, d: ClusterDefinition | None, environ: Mapping[str, str]) -> list[Finding]:
    return check_acs(inv, d)


def acs_control(config: bytes) -> int | None:
    """The ACS control register of a config space image; None without extended space or ACS capability."""
    offset, seen = EXTENDED, set()
    while len(config) >= offset + 8 and offset not in seen and offset >= EXTENDED:
        seen.add(offset)  # a malformed list must not loop
        header = int.from_bytes(config[offset : offset + 4], "little")
        if header & 0xFFFF == ACS_ID:
            return int.from_bytes(config[offset + 6 : offset + 8], "little")
        offset = header >> 20
    return None


def gpu_hca_pairs(inv: NodeInventory, d: ClusterDefinition | None) -> list[tuple[int, str]]:
    """(GPU, HCA) pairs that talk peer-to-peer: the definition's rails, else pairs within one PCIe switch."""
    if d is not None:
        return [(g, r.hca) for r in d.rails for g in r.gpus]
    return sorted(pair for pair, dist in inv.distances.items() if dist <= PciDistance.PXB)


def check_acs(inv: NodeInventory, d: ClusterDefinition | None) -> list[Finding]:
    """An error for each bridge between a GPU and its rail HCA whose ACS redirects P2P; info when unreadable.

    Example:
        >>> from aiinfra.definition import load_definition
        >>> from aiinfra.node.checks.example_nodes import fixture_node
        >>> inv, d = fixture_node("a800-ib"), load_definition("clusters/a800-ib.yaml")
        >>> gpu_hca_pairs(inv, d)[:2], check_acs(inv, d)  # GPU0 and GPU1 share mlx5_2's switch: ACS off there
        ([(0, 'mlx5_2'), (1, 'mlx5_2')], [])
    """
    if not uses_gpudirect(inv, d):
        return []
    root = Path(inv.sysfs_root)
    bridges: dict[str, str] = {}  # bridge -> the first pair it lies between
    for gpu_index, hca_name in gpu_hca_pairs(inv, d):
        gpu, hca = inv.gpu(gpu_index), inv.device(hca_name)
        g = locate(root, normalize_bdf(gpu.pci_bus_id)) if gpu else None
        h = locate(root, hca.pci_bus_id) if hca and hca.pci_bus_id else None
        if g is None or h is None:
            continue
        shared = 0
        if g.root_complex == h.root_complex:
            while shared < min(len(g.bridges), len(h.bridges)) and g.bridges[shared] == h.bridges[shared]:
                shared += 1
        for b in (*g.bridges[shared:], *h.bridges[shared:]):
            bridges.setdefault(b, f"GPU{gpu_index}-{hca_name}")
    out, unreadable = [], []
    for bdf, pair in sorted(bridges.items()):
        config = _config(root / "sys" / "bus" / "pci" / "devices" / bdf / "config")
        if len(config) <= EXTENDED:
            unreadable.append(bdf)
            continue
        ctrl = acs_control(config)
        if ctrl is None or not any(ctrl >> bit & 1 for bit in REDIRECTING):
            continue
        on = "+ ".join(n for bit, n in NAMES.items() if ctrl >> bit & 1) + "+"
        out.append(Finding("acs-redirect", "error", f"{bdf} ({pair})",
                           f"ACS on this bridge redirects peer-to-peer traffic to the root complex (ACSCtl: {on})",
                           "disable ACS in the BIOS (or at boot: `setpci -s <bdf> ECAP_ACS+0x6.w=0000` on every "
                           "bridge, e.g. from a systemd unit); NCCL asks for ACS off on bare metal"))  # fmt: skip
    if unreadable:
        out.append(Finding("acs-unchecked", "info", "node",
                           f"ACS not checked: config space unreadable on {len(unreadable)} bridge(s) "
                           f"(e.g. {unreadable[0]}); reading past 64 bytes needs root",
                           "run the check as root, or check `lspci -vvv | grep ACSCtl` on the host"))  # fmt: skip
    return out


def _config(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        return os.read(fd, CONFIG_SIZE)
    except OSError:
        return b""
    finally:
        os.close(fd)
