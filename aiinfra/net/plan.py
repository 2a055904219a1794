"""A node's host-network plan: the netplan file to install and what must hold afterwards.

``aiinfra net render`` writes one plan per node (``<node>.plan.json`` next to
``<node>.yaml``); ``aiinfra net apply`` on the node reads it. This module uses
the standard library only, so applying and verifying a rendered plan needs
python3 and nothing else from aiinfra's dependencies.

Example:
    >>> p = NodePlan(node="gpu-01", cluster="a800-ib", netplan="network: {version: 2}\\n",
    ...              bond=BondPlan("bond0", ("eno1", "eno2"), (None, None), "802.3ad", 9000),
    ...              gateway="10.10.0.1", peers=("10.10.0.22",), rails=())
    >>> NodePlan.from_json(p.to_json()) == p
    True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

NETPLAN_FILE = "60-aiinfra.yaml"
"""The file under /etc/netplan that aiinfra owns; other files defining our interfaces are moved aside."""


@dataclass(frozen=True)
class BondPlan:
    """The management bond as it must come up."""

    name: str
    members: tuple[str, ...]
    """Interface names after netplan's matching (``set-name`` for members matched by MAC)."""
    macs: tuple[str | None, ...]
    """Permanent MAC of each member where the inventory matched it by MAC."""
    mode: str
    mtu: int


@dataclass(frozen=True)
class RailPlan:
    """One rail's netdev and the link its HCA port must have."""

    name: str
    hca: str
    port: int
    interface: str
    link_layer: str
    """'InfiniBand' or 'Ethernet' (RoCE)."""
    rate_gbps: float
    width: str
    mtu: int
    address: str
    ipoib_mode: str | None


@dataclass(frozen=True)
class NodePlan:
    """Everything ``aiinfra net apply`` needs on one node."""

    node: str
    cluster: str
    netplan: str
    """The netplan YAML text to install as /etc/netplan/60-aiinfra.yaml."""
    bond: BondPlan
    gateway: str | None
    peers: tuple[str, ...]
    """Other nodes' bond addresses; the connectivity check needs the gateway and one of them."""
    rails: tuple[RailPlan, ...]

    def interfaces(self) -> set[str]:
        """Every interface name this plan configures."""
        return {self.bond.name, *self.bond.members, *(r.interface for r in self.rails)}

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> NodePlan:
        """Read a plan written by :meth:`to_json`; ValueError names what is wrong."""
        try:
            raw = json.loads(text)
            bond = raw.pop("bond")
            rails = raw.pop("rails")
            return cls(
                **{**raw, "peers": tuple(raw["peers"])},
                bond=BondPlan(**{**bond, "members": tuple(bond["members"]), "macs": tuple(bond["macs"])}),
                rails=tuple(RailPlan(**r) for r in rails),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not an aiinfra node plan: {exc}") from None
