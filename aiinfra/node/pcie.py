"""PCIe distance between two devices, computed from sysfs paths.

Every PCI device is a directory under ``/sys/devices/pciDDDD:BB/`` nested
below the bridges it hangs off, and ``/sys/bus/pci/devices/<bdf>`` is a
symlink to it. Comparing the bridge chains of a GPU and an HCA gives the
same classes ``nvidia-smi topo -m`` and NCCL use:

- PIX: both hang off one bridge, or off sibling downstream ports of one
  PCIe switch (at most one switch between them).
- PXB: they share a bridge, but more than one switch lies between them.
- PHB: they meet only at the root complex (the host bridge); typical in VMs
  that flatten PCIe (every device directly on bus 0).
- NODE: different root complexes on the same NUMA node.
- SYS: different NUMA nodes, traffic crosses the socket interconnect.

Unknown NUMA nodes (``numa_node`` of -1, common in VMs) count as the same
node, so two root complexes then give NODE, never SYS.

Example:
    >>> from pathlib import Path
    >>> root = Path("tests/fixtures/sysfs/a800-ib")
    >>> pci_distance(root, "0000:18:00.0", "0000:1a:00.0").name
    'PIX'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from aiinfra.node.sysfs import read, resolve

_BDF = re.compile(r"^(?P<domain>[0-9a-fA-F]{4,8}):(?P<bus>[0-9a-fA-F]{2}):(?P<dev>[0-9a-fA-F]{2})\.(?P<fn>[0-7])$")


class PciDistance(IntEnum):
    """How far apart two PCI devices are; larger is farther (NCCL's order)."""

    PIX = 1
    PXB = 2
    PHB = 3
    NODE = 4
    SYS = 5


def normalize_bdf(bus_id: str) -> str:
    """A PCI address in the 4-digit-domain, lower-case form sysfs uses.

    NVML reports an 8-digit domain ('00000000:18:00.0'); sysfs names the
    device '0000:18:00.0'.

    Example:
        >>> normalize_bdf("00000000:1A:00.0")
        '0000:1a:00.0'
    """
    m = _BDF.match(bus_id.strip())
    if not m:
        raise ValueError(f"not a PCI address: {bus_id!r}")
    domain = int(m["domain"], 16)
    return f"{domain:04x}:{m['bus'].lower()}:{m['dev'].lower()}.{m['fn']}"


@dataclass(frozen=True)
class PciLocation:
    """Where a device sits: its root complex, bridge chain and NUMA node."""

    bdf: str
    root_complex: str
    """The host bridge directory, e.g. 'pci0000:15'."""
    bridges: tuple[str, ...]
    """BDFs of the bridges from the root port down to the device's parent."""
    numa_node: int | None


def locate(root: Path, bdf: str) -> PciLocation | None:
    """Resolve ``<root>/sys/bus/pci/devices/<bdf>``; None when the device is absent.

    Example:
        >>> loc = locate(Path("tests/fixtures/sysfs/a800-ib"), "0000:1a:00.0")
        >>> loc.root_complex, loc.numa_node
        ('pci0000:15', 0)
    """
    bdf = normalize_bdf(bdf)
    link = root / "sys" / "bus" / "pci" / "devices" / bdf
    if not link.exists():
        return None
    return location_of(root, resolve(link))


def location_of(root: Path, device_dir: Path) -> PciLocation | None:
    """The location of an already resolved PCI device directory under ``<root>/sys/devices``.

    Example:
        >>> root = Path("tests/fixtures/sysfs/h200-vm")
        >>> location_of(root, root / "sys/devices/pci0000:00/0000:00:06.0").bridges
        ()
    """
    base = resolve(root / "sys" / "devices")
    try:
        parts = resolve(device_dir).relative_to(base).parts
    except ValueError:
        return None
    if not parts or not parts[0].startswith("pci"):
        return None
    chain = [p for p in parts[1:] if _BDF.match(p)]
    if not chain:
        return None
    return PciLocation(
        bdf=chain[-1],
        root_complex=parts[0],
        bridges=tuple(chain[:-1]),
        numa_node=_numa_node(device_dir),
    )


def distance(a: PciLocation, b: PciLocation) -> PciDistance:
    """Classify the path between two located devices.

    Example:
        >>> gpu = PciLocation("0000:18:00.0", "pci0000:15", ("0000:15:01.0", "0000:16:00.0", "0000:17:00.0"), 0)
        >>> hca = PciLocation("0000:1a:00.0", "pci0000:15", ("0000:15:01.0", "0000:16:00.0", "0000:17:02.0"), 0)
        >>> distance(gpu, hca).name
        'PIX'
    """
    if a.root_complex != b.root_complex:
        if a.numa_node is not None and b.numa_node is not None and a.numa_node != b.numa_node:
            return PciDistance.SYS
        return PciDistance.NODE
    shared = 0
    for x, y in zip(a.bridges, b.bridges, strict=False):
        if x != y:
            break
        shared += 1
    if shared == 0:
        return PciDistance.PHB
    # Below the deepest shared bridge each side may have one more bridge (a switch's
    # downstream port) and still be "one switch apart"; more than that is a cascade.
    below = max(len(a.bridges) - shared, len(b.bridges) - shared)
    return PciDistance.PIX if below <= 1 else PciDistance.PXB


def pci_distance(root: Path, bdf_a: str, bdf_b: str) -> PciDistance | None:
    """Distance between two devices by PCI address; None when either is not in sysfs.

    Example:
        >>> pci_distance(Path("tests/fixtures/sysfs/a800-ib"), "0000:18:00.0", "0000:9f:00.0").name
        'SYS'
    """
    a, b = locate(root, bdf_a), locate(root, bdf_b)
    if a is None or b is None:
        return None
    return distance(a, b)


def _numa_node(device_dir: Path) -> int | None:
    try:
        node = int(read(device_dir / "numa_node")[:12])
    except ValueError:
        return None
    # -1 means the firmware did not say (VMs, single-socket boards).
    return node if node >= 0 else None
