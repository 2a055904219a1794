"""Loading a node inventory and the checks that span its fields and the definition.

Every problem is reported at once with ``file:line: field: message``, like the
definition. Some checks catch what netplan itself accepts but is wrong: an LACP
rate on a bond that is not 802.3ad (the kernel ignores it), a hash policy on a
mode that does not hash, an IPoIB MTU the link cannot carry.

Example:
    >>> from aiinfra.definition import load_definition
    >>> inv = load_inventory("clusters/a800-ib.nodes.yaml", load_definition("clusters/a800-ib.yaml"))
    >>> [n.name for n in inv.nodes][:2], inv.bond.mode
    (['gpu-01', 'gpu-02'], '802.3ad')
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from aiinfra.definition.loader import Loc, located, read_located, validation_problems
from aiinfra.definition.model import ClusterDefinition, LinkLayer
from aiinfra.errors import DefinitionError, Problem
from aiinfra.net.inventory import HostInventory, HostNode, RailHost, host_address, rail_interface

_HASHING_MODES = ("802.3ad", "balance-xor", "balance-tlb", "balance-alb")


def inventory_path(definition_path: str | Path) -> Path:
    """Where the inventory of a definition lives by default.

    Example:
        >>> str(inventory_path("clusters/a800-ib.yaml"))
        'clusters/a800-ib.nodes.yaml'
    """
    p = Path(definition_path)
    return p.with_name(p.stem + ".nodes.yaml")


def load_inventory(path: str | Path, definition: ClusterDefinition) -> HostInventory:
    """Parse, validate and cross-check an inventory against ``definition``; DefinitionError lists every problem."""
    file = str(path)
    root, data = read_located(Path(path), expected="cluster, bond, rails, nodes")
    try:
        inv = HostInventory.model_validate({**data, "source": file})
    except ValidationError as exc:
        raise DefinitionError(validation_problems(file, root, exc)) from None
    problems = [located(file, root, loc, msg) for loc, msg in cross_check(inv, definition)]
    if problems:
        raise DefinitionError(problems)
    return inv


def inventory_warnings(inv: HostInventory, d: ClusterDefinition) -> list[Problem]:
    """Allowed but probably wrong: connected-mode IPoIB on ConnectX (mlx5) HCAs."""
    out = []
    for rail in d.rails:
        rh = inv.rails.get(rail.name)
        if rh and rh.ipoib_mode == "connected" and rail.hca.startswith("mlx5"):
            out.append(Problem(inv.source, None, f"rails.{rail.name}.ipoib_mode",
                               "ConnectX-4 and later run enhanced IPoIB, which is datagram only: the port stays in "
                               "datagram mode unless the ib_ipoib module is loaded with ipoib_enhanced=0"))
    return out


def cross_check(inv: HostInventory, d: ClusterDefinition) -> Iterator[tuple[Loc, str]]:
    """Yield (field location, message) for every inconsistency inside ``inv`` or with ``d``."""
    if inv.cluster is not None and inv.cluster != d.name:
        yield ("cluster",), f"this inventory is for '{inv.cluster}' but the definition is '{d.name}'"
    yield from _bond_checks(inv, d)
    defined = {r.name: r for r in d.rails}
    for name, rh in inv.rails.items():
        rail = defined.get(name)
        if rail is None:
            yield ("rails", name), f"the definition has no rail '{name}' (it has {', '.join(defined) or 'none'})"
        else:
            yield from _rail_checks(name, rh, rail.link_layer is LinkLayer.INFINIBAND)
    for name in defined:
        if name not in inv.rails:
            yield ("rails",), f"rail '{name}' of the definition has no entry here"
    subnets: list[tuple[Loc, str]] = [(("bond", "subnet"), inv.bond.subnet)]
    subnets += [(("rails", n, "subnet"), r.subnet) for n, r in inv.rails.items()]
    for i, (loc, net) in enumerate(subnets):
        for other_loc, other in subnets[:i]:
            if ipaddress.ip_network(net).overlaps(ipaddress.ip_network(other)):
                where = ".".join(str(p) for p in other_loc)
                yield loc, f"{net} overlaps {other} ({where}): each network needs its own subnet"
    yield from _node_checks(inv, d)


def _bond_checks(inv: HostInventory, d: ClusterDefinition) -> Iterator[tuple[Loc, str]]:
    b = inv.bond
    wanted = d.network.management_bond
    if b.name and wanted and b.name != wanted:
        yield ("bond", "name"), f"the definition's network.management_bond is '{wanted}'"
    if b.lacp_rate is not None and b.mode != "802.3ad":
        yield ("bond", "lacp_rate"), (
            f"LACP runs only in mode 802.3ad; on '{b.mode}' netplan accepts it and the kernel ignores it")
    if b.transmit_hash_policy is not None and b.mode not in _HASHING_MODES:
        yield ("bond", "transmit_hash_policy"), f"mode '{b.mode}' does not hash; the policy would be ignored"
    net = ipaddress.ip_network(b.subnet)
    if b.gateway is not None and ipaddress.ip_interface(b.gateway).ip not in net:
        yield ("bond", "gateway"), f"{b.gateway} is outside bond.subnet {b.subnet}"


def _rail_checks(name: str, rh: RailHost, infiniband: bool) -> Iterator[tuple[Loc, str]]:
    if infiniband and rh.mac is not None:
        yield ("rails", name, "mac"), "InfiniBand netdevs are matched by interface name (IPoIB addresses change)"
    if not infiniband and rh.ipoib_mode is not None:
        yield ("rails", name, "ipoib_mode"), "an Ethernet (RoCE) rail has no IPoIB; remove ipoib_mode"
    limit = rh.mtu_limit(infiniband)
    if rh.mtu is not None and rh.mtu > limit:
        datagram = f"datagram IPoIB on a {rh.ib_link_mtu}-byte IB MTU"
        why = {65520: "connected-mode IPoIB", 9216: "an Ethernet rail"}.get(limit, datagram)
        yield ("rails", name, "mtu"), f"{rh.mtu} exceeds {limit}, the largest MTU of {why}"


def _node_checks(inv: HostInventory, d: ClusterDefinition) -> Iterator[tuple[Loc, str]]:
    first: dict[tuple[str, object], int] = {}
    for i, node in enumerate(inv.nodes):
        for key in ("name", "index"):
            value = getattr(node, key)
            if (key, value) in first:
                yield ("nodes", i, key), f"duplicate {key} {value!r} (also nodes[{first[key, value]}])"
            first.setdefault((key, value), i)
        yield from _member_checks(inv, i, node)
        for name, nr in node.rails.items():
            rh = inv.rails.get(name)
            if rh is None:
                yield ("nodes", i, "rails", name), f"no rail '{name}' in this inventory's rails"
            elif nr.mtu is not None and nr.mtu != rh.effective_mtu(_is_ib(d, name)):
                yield ("nodes", i, "rails", name, "mtu"), (
                    f"{nr.mtu} differs from the rail's {rh.effective_mtu(_is_ib(d, name))}: every node of a rail needs "
                    "the same MTU (a smaller one on one end makes large messages fail)")
    yield from _address_checks(inv)


def _member_checks(inv: HostInventory, i: int, node: HostNode) -> Iterator[tuple[Loc, str]]:
    members = node.members if node.members is not None else inv.bond.members
    loc: Loc = ("nodes", i, "members") if node.members is not None else ("bond", "members")
    if len(members) < 2:
        yield loc, f"a bond needs at least 2 members (LAN0 and LAN1); {node.name} has {len(members)}"
    keys = [m.key for m in members]
    for j, m in enumerate(members):
        if m.name is None and m.mac is None:
            yield (*loc, j), "give the member's interface name or its MAC"
        if keys.count(m.key) > 1:
            yield (*loc, j), f"member '{m.key}' is listed twice"
    rail_ifs = {rail_interface(inv, node, n) for n in inv.rails}
    for j, m in enumerate(members):
        if m.name in rail_ifs:
            yield (*loc, j, "name"), f"'{m.name}' is a rail interface, not a management port"


def _address_checks(inv: HostInventory) -> Iterator[tuple[Loc, str]]:
    gateway = ipaddress.ip_interface(inv.bond.gateway).ip if inv.bond.gateway else None
    nets: list[tuple[str, str, Loc]] = [("bond", inv.bond.subnet, ())]
    nets += [(n, r.subnet, ("rails", n)) for n, r in inv.rails.items()]
    for key, subnet, _ in nets:
        seen: dict[object, str] = {}
        net = ipaddress.ip_network(subnet)
        for i, node in enumerate(inv.nodes):
            explicit = node.address if key == "bond" else (node.rails[key].address if key in node.rails else None)
            loc: Loc = ("nodes", i, "address") if key == "bond" else ("nodes", i, "rails", key, "address")
            if explicit is None:
                loc = ("nodes", i, "index")
            addr = host_address(subnet, node.index, explicit)
            if explicit is not None and ipaddress.ip_interface(explicit).ip not in net:
                yield loc, f"{explicit} is outside the subnet {subnet}"
            elif addr.ip not in net or (net.num_addresses > 2 and addr.ip in (net.network_address,
                                                                              net.broadcast_address)):
                yield loc, f"index {node.index} gives {addr.ip}, not a host address of {subnet}"
            elif addr.ip == gateway and key == "bond":
                yield loc, f"{addr.ip} is the gateway"
            elif addr.ip in seen:
                yield loc, f"{addr.ip} ({key}) is also {seen[addr.ip]}'s address"
            seen.setdefault(addr.ip, node.name)


def _is_ib(d: ClusterDefinition, rail: str) -> bool:
    return any(r.name == rail and r.link_layer is LinkLayer.INFINIBAND for r in d.rails)
