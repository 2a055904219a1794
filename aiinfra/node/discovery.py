"""Everything aiinfra needs to know about the node it runs on.

``discover_node()`` combines GPUs (NVML, :mod:`aiinfra.node.gpu`), RDMA
devices (sysfs, :mod:`aiinfra.node.rdma`), the PCIe distance of every
GPU-HCA pair (:mod:`aiinfra.node.pcie`) and whether GPUDirect RDMA can work.

GPUDirect heuristic (no CUDA call needed, so it runs in any container):

- nvidia_peermem: ``<root>/sys/module/nvidia_peermem`` exists (module loaded).
- DMA-BUF: the NVIDIA *open* kernel module (``<root>/proc/driver/nvidia/version``
  says "Open Kernel Module"), driver >= 515 (``/sys/module/nvidia/version``, else
  the version file) and Linux >= 5.12 (``<root>/proc/sys/kernel/osrelease``).
  CUDA >= 11.7 and a Turing or newer GPU are also required; every GPU and CUDA
  that runs current NCCL meets them, so they are not checked.

Example:
    >>> import json
    >>> from pathlib import Path
    >>> from aiinfra.node.gpu import RecordedNvml
    >>> nvml = RecordedNvml(json.load(open("tests/fixtures/nvml/a800-8gpu.json")))
    >>> inv = discover_node(Path("tests/fixtures/sysfs/a800-ib"), nvml=nvml)
    >>> inv.distance(0, "mlx5_2").name, inv.gpudirect.peermem_loaded
    ('PIX', True)
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiinfra.node.gpu import Gpu, GpuDiscoveryError, discover_gpus
from aiinfra.node.pcie import PciDistance, distance, locate
from aiinfra.node.rdma import RdmaDevice, discover_rdma
from aiinfra.node.sysfs import read_attr

DMABUF_MIN_KERNEL = (5, 12)
DMABUF_MIN_DRIVER = 515


@dataclass(frozen=True)
class GpuDirectSupport:
    """Which GPUDirect RDMA paths this node offers, and what that was judged from."""

    peermem_loaded: bool
    dmabuf_capable: bool
    kernel: str | None
    driver_version: str | None
    open_kernel_module: bool | None
    notes: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        return self.peermem_loaded or self.dmabuf_capable


@dataclass(frozen=True)
class NodeInventory:
    """GPUs, RDMA devices, PCIe distances and GPUDirect support of one node."""

    sysfs_root: str
    gpus: tuple[Gpu, ...]
    rdma: tuple[RdmaDevice, ...]
    distances: dict[tuple[int, str], PciDistance]
    """(GPU index, HCA name) -> distance, for every pair both found in sysfs."""
    gpudirect: GpuDirectSupport
    net_interfaces: tuple[str, ...]
    gpu_error: str | None = None
    """Why GPUs could not be listed (NVML missing); GPU checks are then skipped."""

    def device(self, name: str) -> RdmaDevice | None:
        return next((d for d in self.rdma if d.name == name), None)

    def gpu(self, index: int) -> Gpu | None:
        return next((g for g in self.gpus if g.index == index), None)

    def distance(self, gpu_index: int, hca: str) -> PciDistance | None:
        return self.distances.get((gpu_index, hca))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able view (distances as a list, enums by name)."""
        return {
            "sysfs_root": self.sysfs_root,
            "gpus": [asdict(g) for g in self.gpus],
            "gpu_error": self.gpu_error,
            "rdma": [asdict(d) for d in self.rdma],
            "distances": [{"gpu": g, "hca": h, "distance": d.name} for (g, h), d in sorted(self.distances.items())],
            "gpudirect": {**asdict(self.gpudirect), "available": self.gpudirect.available},
            "net_interfaces": list(self.net_interfaces),
        }


def discover_node(sysfs_root: Path | str = Path("/"), nvml: Any = None) -> NodeInventory:
    """Discover this node; ``sysfs_root`` prefixes /sys and /proc, ``nvml`` replaces pynvml."""
    root = Path(sysfs_root)
    gpu_error = None
    try:
        gpus = discover_gpus(nvml)
    except GpuDiscoveryError as exc:
        gpus, gpu_error = [], str(exc)
    gpus = [_with_sysfs_numa(root, g) for g in gpus]
    rdma = discover_rdma(root)
    return NodeInventory(
        sysfs_root=str(root),
        gpus=tuple(gpus),
        rdma=tuple(rdma),
        distances=_distances(root, gpus, rdma),
        gpudirect=detect_gpudirect(root),
        net_interfaces=_net_interfaces(root),
        gpu_error=gpu_error,
    )


def detect_gpudirect(root: Path = Path("/")) -> GpuDirectSupport:
    """Judge GPUDirect RDMA support from module and driver files (see the module doc).

    Example:
        >>> s = detect_gpudirect(Path("tests/fixtures/sysfs/roce-h100"))
        >>> s.dmabuf_capable, s.peermem_loaded
        (True, False)
    """
    notes = []
    peermem = (root / "sys" / "module" / "nvidia_peermem").is_dir()
    kernel = read_attr(root / "proc" / "sys" / "kernel" / "osrelease") or None
    banner = read_attr(root / "proc" / "driver" / "nvidia" / "version")
    driver = read_attr(root / "sys" / "module" / "nvidia" / "version") or _driver_from_banner(banner)
    open_module = ("Open Kernel Module" in banner) if banner else None
    if not driver:
        notes.append("no NVIDIA kernel module found (/sys/module/nvidia)")
    if open_module is False:
        notes.append("proprietary NVIDIA kernel module: DMA-BUF needs the open module")
    kernel_ok = _version_tuple(kernel) >= DMABUF_MIN_KERNEL if kernel else False
    if kernel and not kernel_ok:
        notes.append(f"kernel {kernel} is older than 5.12: no DMA-BUF")
    driver_ok = bool(driver) and _version_tuple(driver)[:1] >= (DMABUF_MIN_DRIVER,)
    if driver and not driver_ok:
        notes.append(f"driver {driver} is older than {DMABUF_MIN_DRIVER}: no DMA-BUF")
    return GpuDirectSupport(
        peermem_loaded=peermem,
        dmabuf_capable=bool(open_module) and kernel_ok and driver_ok,
        kernel=kernel,
        driver_version=driver or None,
        open_kernel_module=open_module,
        notes=tuple(notes),
    )


def _distances(root: Path, gpus: list[Gpu], rdma: list[RdmaDevice]) -> dict[tuple[int, str], PciDistance]:
    out = {}
    for dev in rdma:
        hca = locate(root, dev.pci_bus_id) if dev.pci_bus_id else None
        if hca is None:
            continue
        for g in gpus:
            loc = locate(root, g.pci_bus_id)
            if loc is not None:
                out[(g.index, dev.name)] = distance(loc, hca)
    return out


def _with_sysfs_numa(root: Path, gpu: Gpu) -> Gpu:
    if gpu.numa_node is not None:
        return gpu
    loc = locate(root, gpu.pci_bus_id)
    if loc is None or loc.numa_node is None:
        return gpu
    return Gpu(gpu.index, gpu.name, gpu.pci_bus_id, loc.numa_node, gpu.nvlinks, gpu.nvlinks_active)


def _net_interfaces(root: Path) -> tuple[str, ...]:
    d = root / "sys" / "class" / "net"
    return tuple(sorted(p.name for p in d.iterdir())) if d.is_dir() else ()


def _driver_from_banner(banner: str) -> str:
    m = re.search(r"\b(\d{3,}\.\d+(?:\.\d+)?)\b", banner)
    return m.group(1) if m else ""


def _version_tuple(text: str) -> tuple[int, ...]:
    m = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
    return tuple(int(x) for x in m.groups() if x is not None) if m else ()
