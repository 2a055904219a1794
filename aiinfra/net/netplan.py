"""Rendering one netplan file per node from the definition and the node inventory (pure).

The file configures the management bond (802.3ad over LAN0+LAN1, members by
name or matched by MAC) and one netdev per rail: IPoIB with its mode on
InfiniBand rails, a plain Ethernet netdev on RoCE rails. Rails are
``optional`` so a dead data port never holds up boot (systemd-networkd-wait-online).

Example:
    >>> from aiinfra.definition import load_definition
    >>> from aiinfra.net.inventory_loader import load_inventory
    >>> d = load_definition("clusters/a800-ib.yaml")
    >>> plan = render_node(d, load_inventory("clusters/a800-ib.nodes.yaml", d), "gpu-01")
    >>> plan.bond.members, plan.rails[0].address, plan.rails[0].ipoib_mode
    (('ens1f0np0', 'ens1f1np1'), '10.100.0.21/24', 'datagram')
"""

from __future__ import annotations

from typing import Any

import yaml

from aiinfra.definition.model import ClusterDefinition, LinkLayer
from aiinfra.errors import UsageError
from aiinfra.net.inventory import HostInventory, HostNode, host_address, rail_interface
from aiinfra.net.plan import BondPlan, NodePlan, RailPlan

PEERS_PROBED = 2
"""How many other nodes a plan names for the connectivity check (any one answering is enough)."""


def render_all(d: ClusterDefinition, inv: HostInventory) -> list[NodePlan]:
    """One plan per node of the inventory, in inventory order."""
    return [render_node(d, inv, n.name) for n in inv.nodes]


def render_node(d: ClusterDefinition, inv: HostInventory, name: str) -> NodePlan:
    """The plan of node ``name``; UsageError when the inventory has no such node."""
    node = inv.node(name)
    if node is None:
        known = ", ".join(n.name for n in inv.nodes)
        raise UsageError(f"{inv.source}: no node '{name}' (nodes: {known})")
    bond = _bond_plan(d, inv, node)
    rails = tuple(_rail_plan(d, inv, node, rail.name) for rail in d.rails)
    others = [n for n in inv.nodes if n.name != name]
    start = inv.nodes.index(node) % max(len(others), 1)
    peers = tuple(str(_bond_address(inv, n).ip) for n in (others[start:] + others[:start])[:PEERS_PROBED])
    gateway = inv.bond.gateway
    text = netplan_yaml(d, inv, node, bond, rails)
    return NodePlan(node=name, cluster=d.name, netplan=text, bond=bond, gateway=gateway, peers=peers, rails=rails)


def netplan_yaml(d: ClusterDefinition, inv: HostInventory, node: HostNode, bond: BondPlan,
                 rails: tuple[RailPlan, ...]) -> str:
    """The netplan document of one node, with a header naming its sources."""
    b = inv.bond
    ethernets: dict[str, Any] = {}
    for member, mac in zip(bond.members, bond.macs, strict=True):
        entry: dict[str, Any] = {"match": {"macaddress": mac}, "set-name": member} if mac else {}
        ethernets[member] = {**entry, "mtu": b.mtu}
    for r in rails:
        port: dict[str, Any] = {"addresses": [r.address], "mtu": r.mtu, "optional": True}
        if r.ipoib_mode:
            port["infiniband-mode"] = r.ipoib_mode
        ethernets[r.interface] = port
    params: dict[str, Any] = {"mode": b.mode}
    if b.lacp_rate:
        params["lacp-rate"] = b.lacp_rate
    params["mii-monitor-interval"] = b.mii_monitor_interval_ms
    if b.transmit_hash_policy:
        params["transmit-hash-policy"] = b.transmit_hash_policy
    bond_doc: dict[str, Any] = {"interfaces": list(bond.members), "addresses": [str(_bond_address(inv, node))]}
    if b.gateway:
        bond_doc["routes"] = [{"to": "default", "via": b.gateway}]
    if b.dns or b.search:
        bond_doc["nameservers"] = {k: v for k, v in (("addresses", b.dns), ("search", b.search)) if v}
    bond_doc["mtu"] = b.mtu
    bond_doc["parameters"] = params
    doc = {"network": {"version": 2, "renderer": "networkd", "ethernets": ethernets, "bonds": {bond.name: bond_doc}}}
    header = (f"# Rendered by `aiinfra net render` for node {node.name} from {d.source or d.name} and {inv.source}.\n"
              "# Do not edit: change the inventory and render again.\n")
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=120)


def _bond_plan(d: ClusterDefinition, inv: HostInventory, node: HostNode) -> BondPlan:
    members = node.members if node.members is not None else inv.bond.members
    name = inv.bond.name or d.network.management_bond or "bond0"
    return BondPlan(name=name, members=tuple(m.key for m in members), macs=tuple(m.mac for m in members),
                    mode=inv.bond.mode, mtu=inv.bond.mtu)


def _rail_plan(d: ClusterDefinition, inv: HostInventory, node: HostNode, rail_name: str) -> RailPlan:
    rail = next(r for r in d.rails if r.name == rail_name)
    rh = inv.rails[rail_name]
    infiniband = rail.link_layer is LinkLayer.INFINIBAND
    override = node.rails.get(rail_name)
    address = host_address(rh.subnet, node.index, override.address if override else None)
    return RailPlan(name=rail.name, hca=rail.hca, port=rail.port, interface=rail_interface(inv, node, rail_name),
                    link_layer=str(rail.link_layer), rate_gbps=rail.rate_gbps, width=rh.width,
                    mtu=rh.effective_mtu(infiniband), address=str(address), ipoib_mode=rh.mode(infiniband))


def _bond_address(inv: HostInventory, node: HostNode) -> Any:
    return host_address(inv.bond.subnet, node.index, node.address)
