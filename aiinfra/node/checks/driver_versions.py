"""Driver and firmware versions: one of each on a node.

- The rail HCAs' firmware (``<root>/sys/class/infiniband/<hca>/fw_ver``, what ``ibstat`` shows) should be
  one version: mixed firmware on one node means a half-finished update, and NVIDIA qualifies
  firmware with the driver per release. A warning.
- The NVIDIA kernel module (``/sys/module/nvidia/version``) must be the one whose banner
  ``/proc/driver/nvidia/version`` shows: a mismatch means the driver was replaced under a running
  kernel module (NVML then fails with "Driver/library version mismatch"). An error.
- ``/sys/module/mlx5_core/version`` (present with out-of-tree MLNX_OFED/DOCA drivers) is reported
  with the firmware, as context.

Example:
    >>> from aiinfra.node.checks.example_nodes import fixture_node
    >>> check_driver_versions(fixture_node("a800-ib"), None)
    []
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from aiinfra.definition.model import ClusterDefinition
from aiinfra.findings import Finding
from aiinfra.node.checks import node_check
from aiinfra.node.discovery import NodeInventory
from aiinfra.node.sysfs import read

_BANNER_VERSION = re.compile(r"Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)")


@node_check("driver-versions", order=64)
def _registered(inv: NodeInventory, d: ClusterDefinition | None, environ: Mapping[str, str]) -> list[Finding]:
    return check_driver_versions(inv, d)


def check_driver_versions(inv: NodeInventory, d: ClusterDefinition | None) -> list[Finding]:
    """Mixed rail HCA firmware (warning); the NVIDIA module version against its banner (error)."""
    root = Path(inv.sysfs_root)
    out = []
    rails = {r.hca for r in d.rails} if d is not None else {h.name for h in inv.rdma}
    fw = {h.name: read(root / "sys" / "class" / "infiniband" / h.name / "fw_ver") for h in inv.rdma if h.name in rails}
    versions = sorted({v for v in fw.values() if v})
    if len(versions) > 1:
        shown = ", ".join(f"{n} {v}" for n, v in sorted(fw.items()) if v)
        module = read(root / "sys" / "module" / "mlx5_core" / "version")
        out.append(Finding("hca-firmware-mixed", "warning", "rails",
                           f"rail HCAs run different firmware ({shown})"
                           + (f"; mlx5_core driver {module}" if module else ""),
                           "update every HCA to one firmware (mlxfwmanager, or the NIC firmware operator) "
                           "matching the driver release"))  # fmt: skip
    module = read(root / "sys" / "module" / "nvidia" / "version")
    m = _BANNER_VERSION.search(read(root / "proc" / "driver" / "nvidia" / "version"))
    if module and m and m.group(1) != module:
        out.append(Finding("nvidia-driver-mismatch", "error", "node",
                           f"the loaded NVIDIA kernel module reports {m.group(1)} but /sys/module/nvidia says {module}",
                           "reboot the node (or reload the nvidia modules) to load one version"))  # fmt: skip
    return out
