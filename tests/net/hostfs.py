"""Host trees for the network tests, built at test time from the kernel's formats.

No bonding module and no HCA exist here, so the verification reads trees that
reproduce what a node shows: /proc/net/bonding/<bond> as the bonding driver
prints it (Documentation/networking/bonding.rst; 802.3ad layout of 5.x kernels:
header, "802.3ad info" with the active aggregator, then per member its MII
status, permanent MAC, aggregator ID, churn states and actor/partner LACPDU
details), /sys/class/net/<if>/{mtu,address,device/driver}, and the RDMA sysfs
of tests/fixtures/sysfs/<machine> (copied, symlinks kept).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sysfs"
SWITCH_MAC = "44:38:39:ff:00:01"
ZERO = "00:00:00:00:00:00"


@dataclass
class Port:
    name: str
    mac: str
    aggregator: int = 1
    mii: str = "up"
    churn: str = "none"
    partner: str = SWITCH_MAC


def proc_bonding(members: list[Port], active: int = 1, partner: str = SWITCH_MAC, ports_in_active: int = 2) -> str:
    """/proc/net/bonding/bond0 of an 802.3ad bond, fields in the kernel's order."""
    system_mac = members[0].mac
    lines = [
        "Ethernet Channel Bonding Driver: v5.15.0-91-generic",
        "",
        "Bonding Mode: IEEE 802.3ad Dynamic link aggregation",
        "Transmit Hash Policy: layer3+4 (1)",
        "MII Status: up",
        "MII Polling Interval (ms): 100",
        "Up Delay (ms): 0",
        "Down Delay (ms): 0",
        "Peer Notification Delay (ms): 0",
        "",
        "802.3ad info",
        "LACP active: on",
        "LACP rate: fast",
        "Min links: 0",
        "Aggregator selection policy (ad_select): stable",
        "System priority: 65535",
        f"System MAC address: {system_mac}",
        "Active Aggregator Info:",
        f"\tAggregator ID: {active}",
        f"\tNumber of ports: {ports_in_active}",
        "\tActor Key: 21",
        "\tPartner Key: 32",
        f"\tPartner Mac Address: {partner}",
    ]
    for i, m in enumerate(members, start=1):
        lines += [
            "",
            f"Slave Interface: {m.name}",
            f"MII Status: {m.mii}",
            "Speed: 25000 Mbps",
            "Duplex: full",
            "Link Failure Count: 0",
            f"Permanent HW addr: {m.mac}",
            "Slave queue ID: 0",
            f"Aggregator ID: {m.aggregator}",
            f"Actor Churn State: {m.churn}",
            f"Partner Churn State: {m.churn}",
            "Actor Churned Count: 0",
            "Partner Churned Count: 0",
            "details actor lacp pdu:",
            "    system priority: 65535",
            f"    system mac address: {system_mac}",
            "    port key: 21",
            "    port priority: 255",
            f"    port number: {i}",
            "    port state: 63",
            "details partner lacp pdu:",
            "    system priority: 32768",
            f"    system mac address: {m.partner}",
            "    oper key: 32",
            "    port priority: 32768",
            f"    port number: {i + 16}",
            "    port state: 61",
        ]
    return "\n".join(lines) + "\n"


def host_tree(dest: Path, machine: str = "a800-ib", mtus: dict[str, int] | None = None) -> Path:
    """Copy a fixture machine to ``dest`` and add netdev MTUs, MACs and drivers (mlx5_core for PCI netdevs)."""
    shutil.copytree(FIXTURES / machine, dest, symlinks=True)
    net = dest / "sys" / "class" / "net"
    drivers = dest / "sys" / "bus" / "pci" / "drivers" / "mlx5_core"
    drivers.mkdir(parents=True, exist_ok=True)
    for i, entry in enumerate(sorted(net.iterdir())):
        target = entry.resolve()
        mtu = (mtus or {}).get(entry.name, 1500)
        (target / "mtu").write_text(f"{mtu}\n")
        (target / "address").write_text(f"b8:ce:f6:10:00:{i:02x}\n")
        if target.parent.name == "net" and "virtual" not in target.parts:
            pci_dev = target.parent.parent
            (target / "device").symlink_to(os.path.relpath(pci_dev, target))
            if not (pci_dev / "driver").exists():
                (pci_dev / "driver").symlink_to(os.path.relpath(drivers, pci_dev))
    return dest


def write_bond(root: Path, text: str, bond: str = "bond0") -> None:
    path = root / "proc" / "net" / "bonding" / bond
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
