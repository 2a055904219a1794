"""Is the host network what the plan says? Bond, rail ports and MTUs, read under a root.

Reads /proc/net/bonding/<bond> (or sysfs), /sys/class/net/<if>/{mtu,operstate,device/driver}
and the HCA ports through :func:`aiinfra.node.rdma.discover_rdma`; tests point the
root at trees built from the kernel's formats.

Example:
    >>> from pathlib import Path
    >>> [f.code for f in verify_host(Path("/nonexistent"), _EXAMPLE_PLAN)][:1]
    ['bond-missing']
"""

from __future__ import annotations

import os
from pathlib import Path

from aiinfra.findings import Finding
from aiinfra.net.bonding import ZERO_MAC, BondStatus, read_bond
from aiinfra.net.plan import BondPlan, NodePlan, RailPlan
from aiinfra.node.rdma import RdmaDevice, discover_rdma

_EXAMPLE_PLAN = NodePlan("gpu-01", "a800-ib", "", BondPlan("bond0", ("eno1", "eno2"), (None, None), "802.3ad", 9000),
                         None, (), ())
MLX5 = "mlx5_core"


def verify_host(root: Path, plan: NodePlan) -> list[Finding]:
    """Every finding about the bond, its members, the rail ports and the MTUs; errors mean not as planned."""
    findings = _bond_findings(root, plan.bond)
    devices = {d.name: d for d in discover_rdma(root)}
    for rail in plan.rails:
        findings += _rail_findings(root, rail, devices.get(rail.hca))
    return findings


def connectx_members(root: Path, plan: NodePlan) -> list[Finding]:
    """A warning per bond member driven by mlx5_core (a ConnectX port).

    The Network Operator's driver container (ofedDriver) reloads mlx5 when it starts or
    upgrades, which removes every mlx5 netdev; it restores plain IP settings but not a
    bond, so the node drops off the management network.
    """
    out = []
    for name, mac in zip(plan.bond.members, plan.bond.macs, strict=True):
        # After netplan's set-name the member carries its name; before, only its MAC finds it
        # (once enslaved, every member shows the bond's MAC, so the name comes first).
        netdev = name if (root / "sys" / "class" / "net" / name).exists() or not mac else _netdev_by_mac(root, mac)
        if netdev and driver_of(root, netdev) == MLX5:
            out.append(Finding(
                "bond-member-connectx", "warning", f"{plan.bond.name}/{netdev}",
                "bond member is a ConnectX port (mlx5_core): a driver container restart removes it and the bond "
                "is not restored",
                "use the host-installed (inbox or DOCA) driver: no ofedDriver in the NicClusterPolicy for these nodes",
            ))
    return out


def driver_of(root: Path, netdev: str) -> str | None:
    """The kernel driver of a netdev (the name of /sys/class/net/<if>/device/driver), or None."""
    link = root / "sys" / "class" / "net" / netdev / "device" / "driver"
    try:
        return Path(os.readlink(link)).name
    except OSError:
        return None


def _bond_findings(root: Path, bond: BondPlan) -> list[Finding]:
    status = read_bond(root, bond.name)
    dev = bond.name
    if status is None:
        return [Finding("bond-missing", "error", dev, "no such bond (no /proc/net/bonding entry, no sysfs bonding)",
                        "check `netplan apply` output and `journalctl -u systemd-networkd`")]
    out = []
    if bond.mode == "802.3ad" and not status.is_8023ad:
        out.append(Finding("bond-mode", "error", dev, f"mode is '{status.mode}', not IEEE 802.3ad",
                           "the bond existed before with another mode: delete it (`ip link del`) and apply again"))
    out += _member_findings(status, bond)
    for name in (bond.name, *bond.members):
        out += _mtu_findings(root, name, bond.mtu)
    return out


def _member_findings(status: BondStatus, bond: BondPlan) -> list[Finding]:
    out = []
    aggregators = set()
    for name, mac in zip(bond.members, bond.macs, strict=True):
        m = status.member(name=name, mac=mac)
        dev = f"{bond.name}/{name}"
        if m is None:
            out.append(Finding("bond-member-missing", "error", dev, "not a member of the bond",
                               "check the interface name/MAC in the inventory (`ip -br link`)"))
            continue
        if m.mii_status != "up":
            out.append(Finding("bond-member-down", "error", dev, f"MII status {m.mii_status or 'unknown'}",
                               "check cable and switch port"))
        if not status.is_8023ad:
            continue
        aggregators.add(m.aggregator_id)
        if m.aggregator_id != status.active_aggregator:
            out.append(Finding("bond-aggregator", "error", dev,
                               f"in aggregator {m.aggregator_id}, not the active one ({status.active_aggregator}): "
                               "it carries no traffic",
                               "both switch ports must be in the same LACP port-channel (MLAG pair: same LAG id)"))
        if m.actor_churn == "churned" or m.partner_churn == "churned":
            out.append(Finding("bond-churned", "error", dev,
                               f"LACP churned (actor {m.actor_churn}, partner {m.partner_churn})",
                               "the switch port is not answering LACP: configure it as an LACP (active) port-channel"))
        if m.partner_mac == ZERO_MAC:
            out.append(Finding("bond-no-partner", "error", dev, "partner MAC is 00:00:00:00:00:00 (no LACP partner)",
                               "the switch port sends no LACPDUs: enable LACP on it"))
    if status.is_8023ad and status.partner_mac == ZERO_MAC:
        out.append(Finding("bond-no-partner", "error", bond.name, "the active aggregator has no partner (MAC all zero)",
                           "configure the switch ports as an LACP port-channel"))
    if len(aggregators) > 1:
        out.append(Finding("bond-split", "error", bond.name, f"members in {len(aggregators)} aggregators",
                           "the switch ports belong to different port-channels"))
    return out


def _rail_findings(root: Path, rail: RailPlan, device: RdmaDevice | None) -> list[Finding]:
    dev = f"{rail.name} ({rail.hca}:{rail.port})"
    if device is None or device.port(rail.port) is None:
        return [Finding("rail-port-missing", "error", dev, "no such RDMA device/port",
                        "check the driver is loaded (`ls /sys/class/infiniband`) and the definition's hca")]
    port = device.port(rail.port)
    assert port is not None
    out = []
    if not port.active or port.phys_state != "LinkUp":
        out.append(Finding("rail-port-down", "error", dev, f"{port.state}/{port.phys_state}",
                           "Polling: cable or switch port; INIT/ARMED: no subnet manager on this fabric"))
    if port.link_layer != rail.link_layer:
        out.append(Finding("rail-link-layer", "error", dev, f"link layer {port.link_layer}, expected {rail.link_layer}",
                           "set the port type with mlxconfig (LINK_TYPE_P1) or fix the definition"))
    width = port.rate_text.partition("(")[2].split(" ")[0]
    if port.rate_gbps != rail.rate_gbps or width != rail.width:
        out.append(Finding("rail-rate", "error", dev,
                           f"{port.rate_text or 'no rate'}: expected {rail.rate_gbps:g} Gb/sec at {rail.width}",
                           "a lane or the cable is degraded: reseat or replace it"))
    out += _mtu_findings(root, rail.interface, rail.mtu, label=f"{rail.name}/{rail.interface}")
    return out


def _mtu_findings(root: Path, netdev: str, mtu: int, label: str | None = None) -> list[Finding]:
    path = root / "sys" / "class" / "net" / netdev / "mtu"
    try:
        actual = int(path.read_text().strip())
    except (OSError, ValueError):
        return [Finding("netdev-missing", "error", label or netdev, "no such network interface",
                        "check the interface name in the inventory (`ip -br link`)")]
    if actual != mtu:
        return [Finding("mtu", "error", label or netdev, f"MTU {actual}, defined {mtu}",
                        "a mismatched MTU makes large messages fail or hang: apply again, check the switch MTU")]
    return []


def _netdev_by_mac(root: Path, mac: str) -> str | None:
    base = root / "sys" / "class" / "net"
    if not base.is_dir():
        return None
    for entry in sorted(base.iterdir()):
        try:
            if (entry / "address").read_text().strip().lower() == mac.lower():
                return entry.name
        except OSError:
            continue
    return None
