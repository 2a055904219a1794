"""A node's ``/sys`` and ``/proc`` files as the Linux kernel writes them, and the writer of such trees.

No HCA exists where the simulator and the tests run, so a node's ``/sys`` and ``/proc`` are a folder
written by :class:`Tree`, with file names and value formats as the kernel writes them:

- ``sys/class/infiniband/<hca>`` -> ``sys/devices/pciDDDD:BB/<bridges>/<bdf>/infiniband/<hca>``;
  ``ports/<n>/state`` '4: ACTIVE', ``phys_state`` '5: LinkUp', ``rate`` '400 Gb/sec (4X NDR)',
  ``link_layer``; ``gids/<i>`` with ``gid_attrs/types/<i>`` and ``gid_attrs/ndevs/<i>`` on RoCE
  (tables cut to 8 slots; on IB ports the attribute files are omitted, as reading them fails there).
- ``sys/bus/pci/devices/<bdf>`` links, ``numa_node``, and on bridges the binary ``config`` (4 KiB as root
  reads it: type 1 header, extended capabilities AER then ACS, ID 0x000D, whose control register
  :func:`pci_bridge_config` sets); ``sys/module/nvidia{,_peermem}``, ``proc/driver/nvidia/version``,
  ``proc/sys/kernel/osrelease``, ``proc/cmdline``; a 802.3ad bond in ``proc/net/bonding/<bond>``
  (bond_procfs.c layout, :func:`bond`) and ``sys/class/net/bonding_masters``.
- ``sys/class/net/<netdev>/mtu`` (and ``mode`` 'datagram' on IPoIB), ``proc/self/limits`` (the layout
  of fs/proc/base.c) and ``proc/self/status`` ``CapEff``.

The simulator's process nodes (:mod:`aiinfra.sim.node_tree`, from the cluster definition) and the test
fixtures (tests/fixtures/make_sysfs.py, make_exporter_trees.py) build their machines from these parts.

Example:
    >>> import tempfile
    >>> t = Tree(Path(tempfile.mkdtemp()))
    >>> gpus, hca = switch_group(t, 0x15, 0)
    >>> gpus, (t.root / "sys/bus/pci/devices/0000:1a:00.0/numa_node").read_text().strip()
    (['0000:18:00.0', '0000:19:00.0'], '0')
"""

from __future__ import annotations

import os
from pathlib import Path

GidSpec = tuple[str, str | None, str | None]  # value, type, netdev
GID_SLOTS = 8
ZERO = "0000:0000:0000:0000:0000:0000:0000:0000"
PROPRIETARY_535 = (
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.129.03  Thu Oct 19 18:56:32 UTC 2023\n"
    "GCC version:  gcc version 11.4.0 (Ubuntu 11.4.0-1ubuntu1~22.04)\n"
)
OPEN_570 = (
    "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.124.06  Release Build  "
    "(dvs-builder@U16-I3-B03-4-3)  Thu Feb 20 20:03:12 UTC 2025\n"
    "GCC version:  gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)\n"
)
ACTIVE, DOWN = ("4: ACTIVE", "5: LinkUp"), ("1: DOWN", "2: Polling")
# (root complex bus, NUMA node): each a root port -> PCIe switch -> 2 GPUs + 1 HCA, as on HGX A800/H100.
SWITCHES = [(0x15, 0), (0x3A, 0), (0x9A, 1), (0xBA, 1)]
KERNEL = "5.15.0-131-generic"
BOND_PARTNER_MAC = "b8:59:9f:10:20:30"
CMDLINE = "BOOT_IMAGE=/boot/vmlinuz-{kernel} root=UUID=5a1f3c2e-8d4b-4f1a-9c6e-2b7d0e9f4a11 ro quiet"
# Capabilities a worker pod has: the container runtime's default set plus IPC_LOCK (bit 14).
CAP_EFF_WORKER = "00000000a80465fb"
_LIMITS = [  # fs/proc/base.c lim_row order; memlock is filled in
    ("Max cpu time", "unlimited", "unlimited", "seconds"), ("Max file size", "unlimited", "unlimited", "bytes"),
    ("Max data size", "unlimited", "unlimited", "bytes"), ("Max stack size", "8388608", "unlimited", "bytes"),
    ("Max core file size", "0", "unlimited", "bytes"), ("Max resident set", "unlimited", "unlimited", "bytes"),
    ("Max processes", "unlimited", "unlimited", "processes"), ("Max open files", "1048576", "1048576", "files"),
    ("Max locked memory", "", "", "bytes"), ("Max address space", "unlimited", "unlimited", "bytes"),
    ("Max file locks", "unlimited", "unlimited", "locks"), ("Max pending signals", "2061424", "2061424", "signals"),
    ("Max msgqueue size", "819200", "819200", "bytes"), ("Max nice priority", "0", "0", ""),
    ("Max realtime priority", "0", "0", ""), ("Max realtime timeout", "unlimited", "unlimited", "us"),
]  # fmt: skip
ACS_CAP_OFFSET = 0x148


def pci_bridge_config(acs_ctrl: int = 0) -> bytes:
    """A bridge's 4 KiB config space: a PCIe switch port (type 1 header) with an AER capability at 0x100 and
    an ACS capability (ID 0x000D) at 0x148 whose control register holds ``acs_ctrl`` (0: ACS off, as NCCL wants).

    Example:
        >>> cfg = pci_bridge_config(0x1D)
        >>> len(cfg), cfg[0x100:0x102].hex(), cfg[0x148:0x14A].hex(), cfg[0x14E]
        (4096, '0100', '0d00', 29)
    """
    cfg = bytearray(4096)
    cfg[0:4] = (0x10B5 | 0xC030 << 16).to_bytes(4, "little")  # vendor, device (a Broadcom PEX switch port)
    cfg[0x0E] = 0x01  # header type 1: bridge
    cfg[0x100:0x104] = (0x0001 | 2 << 16 | ACS_CAP_OFFSET << 20).to_bytes(4, "little")  # AER v2, next: ACS
    cfg[ACS_CAP_OFFSET : ACS_CAP_OFFSET + 4] = (0x000D | 1 << 16).to_bytes(4, "little")  # ACS v1, last
    cfg[ACS_CAP_OFFSET + 4 : ACS_CAP_OFFSET + 6] = (0x005F).to_bytes(2, "little")  # capability: SV TB RR CR UF DT
    cfg[ACS_CAP_OFFSET + 6 : ACS_CAP_OFFSET + 8] = acs_ctrl.to_bytes(2, "little")
    return bytes(cfg)


class Tree:
    """Writes files and relative symlinks under ``root`` (a node's ``/``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text if text.endswith("\n") else text + "\n")

    def write_bytes(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def link(self, rel: str, target_rel: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(os.path.relpath(self.root / target_rel, path.parent))

    def pci(self, chain: list[str], numa: int, cls: str) -> str:
        """Create the device at the end of ``chain`` (root complex first) and its bridges."""
        for depth in range(2, len(chain) + 1):
            rel = "sys/devices/" + "/".join(chain[:depth])
            bdf = chain[depth - 1]
            self.write(f"{rel}/numa_node", str(numa))
            self.write(f"{rel}/class", cls if depth == len(chain) else "0x060400")
            if depth < len(chain) and not (self.root / f"{rel}/config").exists():
                self.write_bytes(f"{rel}/config", pci_bridge_config())
            if not (self.root / f"sys/bus/pci/devices/{bdf}").is_symlink():
                self.link(f"sys/bus/pci/devices/{bdf}", rel)
        return "sys/devices/" + "/".join(chain)

    def netdev(self, dev_rel: str, name: str, dev_port: int, mtu: int = 1500, ipoib: bool = False) -> None:
        self.write(f"{dev_rel}/net/{name}/dev_port", str(dev_port))
        self.write(f"{dev_rel}/net/{name}/operstate", "up")
        self.write(f"{dev_rel}/net/{name}/mtu", str(mtu))
        if ipoib:
            self.write(f"{dev_rel}/net/{name}/mode", "datagram")
        self.link(f"sys/class/net/{name}", f"{dev_rel}/net/{name}")

    def virtual_netdev(self, name: str, mtu: int = 1500) -> None:
        self.write(f"sys/devices/virtual/net/{name}/operstate", "up")
        self.write(f"sys/devices/virtual/net/{name}/mtu", str(mtu))
        self.link(f"sys/class/net/{name}", f"sys/devices/virtual/net/{name}")

    def hca(self, dev_rel: str, name: str, port: dict[str, str], gids: list[GidSpec], number: int = 1) -> None:
        ib = f"{dev_rel}/infiniband/{name}"
        self.link(f"{ib}/device", dev_rel)
        self.link(f"sys/class/infiniband/{name}", ib)
        for key, value in port.items():
            self.write(f"{ib}/ports/{number}/{key}", value)
        for i in range(GID_SLOTS):
            gid, gid_type, ndev = gids[i] if i < len(gids) else (ZERO, None, None)
            self.write(f"{ib}/ports/{number}/gids/{i}", gid)
            if gid_type is not None:
                self.write(f"{ib}/ports/{number}/gid_attrs/types/{i}", gid_type)
                self.write(f"{ib}/ports/{number}/gid_attrs/ndevs/{i}", ndev or "")

    def driver(self, banner: str, version: str, kernel: str, peermem: bool) -> None:
        self.write("proc/driver/nvidia/version", banner)
        self.write("sys/module/nvidia/version", version)
        self.write("proc/sys/kernel/osrelease", kernel)
        self.write("proc/cmdline", CMDLINE.format(kernel=kernel))
        if peermem:
            self.write("sys/module/nvidia_peermem/initstate", "live")

    def process(self, memlock: str = "unlimited", cap_eff: str = CAP_EFF_WORKER) -> None:
        """``proc/self/limits`` with ``memlock`` as soft and hard 'Max locked memory' and ``CapEff`` in status."""
        rows = ["Limit                     Soft Limit           Hard Limit           Units     "]
        for name, soft, hard, unit in _LIMITS:
            soft, hard = (memlock, memlock) if name == "Max locked memory" else (soft, hard)
            rows.append(f"{name:<26}{soft:<21}{hard:<21}{unit:<10}")
        self.write("proc/self/limits", "\n".join(rows))
        self.write(
            "proc/self/status",
            f"Name:\tpython3\nCapInh:\t0000000000000000\nCapPrm:\t{cap_eff}\n"
            f"CapEff:\t{cap_eff}\nCapBnd:\t{cap_eff}\nCapAmb:\t0000000000000000",
        )

    def iommu(self, dev_rel: str, group: int, kind: str = "DMA-FQ", unit: str = "dmar0") -> None:
        """Put the device at ``dev_rel`` in IOMMU group ``group`` of type ``kind`` ('identity' is passthrough)."""
        self.write(f"sys/kernel/iommu_groups/{group}/type", kind)
        if not (self.root / f"{dev_rel}/iommu_group").is_symlink():
            self.link(f"{dev_rel}/iommu_group", f"sys/kernel/iommu_groups/{group}")
        self.write(f"sys/devices/virtual/iommu/{unit}/intel-iommu/version", "1:0")
        if not (self.root / f"sys/class/iommu/{unit}").is_symlink():
            self.link(f"sys/class/iommu/{unit}", f"sys/devices/virtual/iommu/{unit}")


def switch_group(t: Tree, rc: int, numa: int, hca_bdf: str | None = None) -> tuple[list[str], str]:
    """Two GPUs and an HCA slot behind one switch; returns the GPU BDFs and the HCA device path."""
    base = [f"pci0000:{rc:02x}", f"0000:{rc:02x}:01.0", f"0000:{rc + 1:02x}:00.0"]
    gpus = []
    for slot, bus in ((0, rc + 3), (1, rc + 4)):
        bdf = f"0000:{bus:02x}:00.0"
        t.pci([*base, f"0000:{rc + 2:02x}:{slot:02x}.0", bdf], numa, "0x030200")
        gpus.append(bdf)
    hca = hca_bdf or f"0000:{rc + 5:02x}:00.0"
    return gpus, t.pci([*base, f"0000:{rc + 2:02x}:02.0", hca], numa, "0x020700")


def bond(t: Tree, members: list[tuple[str, str]], odd_member: str | None = None, kernel: str = KERNEL) -> None:
    """bond0 in 802.3ad over ``members`` (name, device path); ``odd_member`` lands in aggregator 2 without
    partner (switch ports not in one LAG)."""
    t.write("sys/devices/virtual/net/bond0/operstate", "up")
    t.write("sys/devices/virtual/net/bond0/mtu", "1500")
    t.link("sys/class/net/bond0", "sys/devices/virtual/net/bond0")
    t.write("sys/class/net/bonding_masters", "bond0")
    t.write("sys/devices/virtual/net/bond0/bonding/slaves", " ".join(m for m, _ in members))
    t.write("sys/devices/virtual/net/bond0/bonding/mode", "802.3ad 4")
    lines = [
        f"Ethernet Channel Bonding Driver: v{kernel}", "",
        "Bonding Mode: IEEE 802.3ad Dynamic link aggregation", "Transmit Hash Policy: layer3+4 (1)",
        "MII Status: up", "MII Polling Interval (ms): 100", "Up Delay (ms): 0", "Down Delay (ms): 0",
        "Peer Notification Delay (ms): 0", "", "802.3ad info", "LACP active: on", "LACP rate: fast", "Min links: 0",
        "Aggregator selection policy (ad_select): stable", "System priority: 65535",
        "System MAC address: 0c:42:a1:5b:2e:00", "Active Aggregator Info:", "\tAggregator ID: 1",
        f"\tNumber of ports: {len(members) - (odd_member is not None)}", "\tActor Key: 21", "\tPartner Key: 32801",
        f"\tPartner Mac Address: {BOND_PARTNER_MAC}", "",
    ]  # fmt: skip
    for i, (m, dev) in enumerate(members):
        odd = m == odd_member
        attrs = {
            "mii_status": "up",
            "ad_aggregator_id": "2" if odd else "1",
            "link_failure_count": "1" if odd else "0",
            "state": "backup" if odd else "active",
            "perm_hwaddr": f"0c:42:a1:5b:2e:{i:02x}",
        }
        for key, value in attrs.items():
            t.write(f"{dev}/net/{m}/bonding_slave/{key}", value)
        t.link(f"sys/devices/virtual/net/bond0/lower_{m}", f"{dev}/net/{m}")
        churn, partner = ("churned", "00:00:00:00:00:00") if odd else ("none", BOND_PARTNER_MAC)
        lines += [
            f"Slave Interface: {m}", "MII Status: up", "Speed: 25000 Mbps", "Duplex: full",
            f"Link Failure Count: {1 if odd else 0}", f"Permanent HW addr: 0c:42:a1:5b:2e:{i:02x}", "Slave queue ID: 0",
            f"Aggregator ID: {2 if odd else 1}", f"Actor Churn State: {churn}", f"Partner Churn State: {churn}",
            f"Actor Churned Count: {1 if odd else 0}", f"Partner Churned Count: {1 if odd else 0}",
            "details actor lacp pdu:", "    system priority: 65535", "    system mac address: 0c:42:a1:5b:2e:00",
            "    port key: 21", "    port priority: 255", f"    port number: {i + 1}",
            f"    port state: {69 if odd else 61}",
            "details partner lacp pdu:", "    system priority: 65535" if odd else "    system priority: 32768",
            f"    system mac address: {partner}", f"    oper key: {1 if odd else 32801}", "    port priority: 255",
            f"    port number: {1 if odd else 289 + i}", f"    port state: {1 if odd else 61}", "",
        ]  # fmt: skip
    t.write("proc/net/bonding/bond0", "\n".join(lines))
