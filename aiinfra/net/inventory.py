"""The node inventory: which nodes a cluster has and how their host network is set up.

It lives next to the cluster definition (``clusters/a800-ib.yaml`` has
``clusters/a800-ib.nodes.yaml``) and says, per cluster and per node, what the
definition cannot: the management bond (LAN0+LAN1 by name or MAC, 802.3ad,
LACP rate, hash policy, MTU, address, gateway, DNS) and each rail's netdev
(LAN2-LAN5) with its IPoIB address, mode and MTU. Strict like the definition:
unknown keys, bad types and cross-field mistakes are reported all at once as
``file:line: field: message`` (the definition loader's line mapping is reused).
Loading and the cross-field checks live in :mod:`aiinfra.net.inventory_loader`.

Example:
    >>> HostInventory.model_validate({"bond": {"subnet": "10.10.0.0/24"}, "rails": {},
    ...                               "nodes": [{"name": "gpu-01", "index": 21}]}).bond.mode
    '802.3ad'
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

IfName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}$")]
"""A Linux interface name: at most 15 characters (IFNAMSIZ - 1)."""
BondMode = Literal["802.3ad", "active-backup", "balance-rr", "balance-xor", "broadcast", "balance-tlb", "balance-alb"]
HashPolicy = Literal["layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4"]
_MAC6 = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_MAC20 = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){19}$")


class HostModel(BaseModel):
    """Base of every inventory section: unknown keys are errors, no type coercion."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True)


def check_mac(value: str | None) -> str | None:
    """A 6-byte Ethernet MAC, lower-cased; a 20-byte IPoIB address is refused with the reason.

    Example:
        >>> check_mac("B8:CE:F6:00:00:01")
        'b8:ce:f6:00:00:01'
    """
    if value is None:
        return None
    if _MAC20.match(value):
        # netplan accepts it, but the first 4 bytes are the queue pair number, which changes
        # whenever the driver reloads, so the match silently stops matching.
        raise ValueError("a 20-byte IPoIB hardware address cannot identify a port (its queue pair bytes change); "
                         "match IPoIB ports by interface name")
    if not _MAC6.match(value):
        raise ValueError(f"not a MAC address (aa:bb:cc:dd:ee:ff): {value!r}")
    return value.lower()


def check_network(value: str) -> str:
    """A subnet in CIDR form with no host bits (``10.100.0.0/24``)."""
    try:
        return str(ipaddress.ip_network(value))
    except ValueError as exc:
        raise ValueError(f"not a subnet in CIDR form: {exc}") from None


def check_address(value: str | None) -> str | None:
    """An IP address, optionally with the subnet's prefix length (``10.10.0.21`` or ``10.10.0.21/24``)."""
    if value is None:
        return None
    try:
        ipaddress.ip_interface(value)
    except ValueError as exc:
        raise ValueError(f"not an IP address: {exc}") from None
    return value


class Member(HostModel):
    """One bond member (LAN0 or LAN1), by interface name or by permanent MAC."""

    name: IfName | None = None
    """Interface name, e.g. 'ens1f0np0'; with ``mac`` it is the name netplan gives the matched port."""
    mac: str | None = None
    """Permanent MAC address of the port; survives renames."""

    _mac = field_validator("mac")(check_mac)

    @property
    def key(self) -> str:
        """The netplan id: the name, else 'lan-' and the MAC's last three bytes."""
        return self.name or "lan-" + (self.mac or "").replace(":", "")[-6:]


class Bond(HostModel):
    """The management bond carrying SSH, Kubernetes and the pods' primary network."""

    name: IfName | None = None
    """Defaults to the definition's network.management_bond (bond0)."""
    members: list[Member] = []
    """Members on every node (LAN0, LAN1); a node may list its own."""
    mode: BondMode = "802.3ad"
    lacp_rate: Literal["slow", "fast"] | None = None
    """LACPDU rate, 802.3ad only; 'fast' detects a dead link in 3 s instead of 90 s."""
    transmit_hash_policy: HashPolicy | None = None
    mii_monitor_interval_ms: Annotated[int, Field(ge=0)] = 100
    mtu: Annotated[int, Field(ge=1280, le=9216)] = 1500
    subnet: str
    gateway: str | None = None
    dns: list[str] = []
    search: list[str] = []

    _subnet = field_validator("subnet")(check_network)
    _gateway = field_validator("gateway")(check_address)

    @field_validator("dns")
    @classmethod
    def _dns(cls, value: list[str]) -> list[str]:
        for v in value:
            check_address(v)
        return value


class RailHost(HostModel):
    """How one rail of the definition is set up on the hosts."""

    interface: IfName
    """The rail's netdev on every node (e.g. 'ibp26s0'); a node may override it."""
    mac: str | None = None
    """Refused on InfiniBand rails (IPoIB addresses change); allowed for RoCE netdevs."""
    subnet: str
    """The rail's IP subnet; a node's address is the subnet's address plus the node's index unless given."""
    ipoib_mode: Literal["datagram", "connected"] | None = None
    """InfiniBand only; default datagram (ConnectX-4 and later run enhanced IPoIB, datagram only)."""
    ib_link_mtu: Literal[256, 512, 1024, 2048, 4096] = 4096
    """The port's IB MTU as the subnet manager sets it; caps the datagram-mode IPoIB MTU."""
    mtu: Annotated[int, Field(ge=1280, le=65520)] | None = None
    """Netdev MTU; default the largest the mode allows (IB datagram: ib_link_mtu - 4), 1500 on Ethernet."""
    width: Literal["1X", "2X", "4X", "8X", "12X"] = "4X"
    """Link width the port must train at (HDR/NDR HCAs: 4X)."""

    _mac = field_validator("mac")(check_mac)
    _subnet = field_validator("subnet")(check_network)

    def mode(self, infiniband: bool) -> str | None:
        """The IPoIB mode in effect (None on Ethernet)."""
        return (self.ipoib_mode or "datagram") if infiniband else None

    def mtu_limit(self, infiniband: bool) -> int:
        """The largest netdev MTU the mode allows.

        Datagram IPoIB carries one IB packet: the link MTU minus the 4-byte IPoIB header
        (4092 on a 4K link); connected mode allows 65520; Ethernet rails stop at 9216,
        the largest frame common data-center switches forward.

        Example:
            >>> RailHost(interface="ib0", subnet="10.1.0.0/24").mtu_limit(True)
            4092
        """
        if not infiniband:
            return 9216
        return 65520 if self.mode(True) == "connected" else self.ib_link_mtu - 4

    def effective_mtu(self, infiniband: bool) -> int:
        """The MTU to configure: the given one, else the mode's largest (1500 on Ethernet)."""
        if self.mtu is not None:
            return self.mtu
        return self.mtu_limit(True) if infiniband else 1500


class NodeRail(HostModel):
    """Per-node settings of one rail."""

    address: str | None = None
    interface: IfName | None = None
    mtu: Annotated[int, Field(ge=1280, le=65520)] | None = None

    _address = field_validator("address")(check_address)


class HostNode(HostModel):
    """One node: its name, index and whatever differs from the cluster-wide settings."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    """Host name (as `hostname -s` prints it), so `aiinfra net apply` finds its own entry."""
    index: Annotated[int, Field(ge=1)]
    """Host number inside every subnet: derived addresses are the subnet's address + index."""
    address: str | None = None
    """Bond address; default derived from bond.subnet and index."""
    members: list[Member] | None = None
    rails: dict[str, NodeRail] = {}

    _address = field_validator("address")(check_address)


class HostInventory(HostModel):
    """A node inventory file."""

    cluster: str | None = None
    """Name of the cluster definition this belongs to (checked when given)."""
    bond: Bond
    rails: dict[str, RailHost]
    """Keyed by the definition's rail names."""
    nodes: Annotated[list[HostNode], Field(min_length=1)]

    source: Annotated[str, Field(exclude=True)] = ""

    def node(self, name: str) -> HostNode | None:
        return next((n for n in self.nodes if n.name == name), None)


def host_address(subnet: str, index: int, explicit: str | None) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """A node's address in ``subnet``: the explicit one, else the subnet's address plus ``index``.

    Example:
        >>> str(host_address("10.100.0.0/24", 21, None)), str(host_address("10.10.0.0/24", 1, "10.10.0.9"))
        ('10.100.0.21/24', '10.10.0.9/24')
    """
    net = ipaddress.ip_network(subnet)
    if explicit is not None:
        return ipaddress.ip_interface(f"{ipaddress.ip_interface(explicit).ip}/{net.prefixlen}")
    return ipaddress.ip_interface(f"{net.network_address + index}/{net.prefixlen}")


def rail_interface(inv: HostInventory, node: HostNode, rail: str) -> str:
    """The netdev of ``rail`` on ``node``: the node's override, else the rail's."""
    override = node.rails.get(rail)
    return override.interface if override and override.interface else inv.rails[rail].interface
