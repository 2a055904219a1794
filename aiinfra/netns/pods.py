"""Pod network namespaces of process-backed simulator nodes: one bridge per simulator, one veth per pod.

Every pod of a process-backed node gets its own network namespace (every Ray pod listens on the same
fixed ports, so loopback aliases cannot separate them) with ``eth0`` on a bridge private to one
simulator. The bridge has no host address and no uplink: traffic stays between the simulator's own
namespaces and the host never sends to pod addresses. Names carry a short id of the simulator's state
folder, so a sweep by prefix removes exactly one simulator's leftovers (or every simulator's, with
the bare prefix). Everything here shells out to iproute2 and needs root.

Example:
    >>> from aiinfra.netns.pods import PodNet, sim_id
    >>> net = PodNet(sim_id("/tmp/sim"))
    >>> net.bridge, net.netns(3), net.veth(3)
    ('aisb-a872599b', 'aisim-a872599b-3', 'ava872599b-3')
    >>> net.address(3)
    '10.245.0.4'
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from aiinfra import netns
from aiinfra.errors import AiinfraError

NETNS_PREFIX = "aisim-"
BRIDGE_PREFIX = "aisb-"
VETH_PREFIX = "av"
POD_SUBNET = ipaddress.ip_network("10.245.0.0/16")
"""Pod addresses of process nodes; it never appears on the host (the bridge has no address)."""


def sim_id(state_dir: str | Path) -> str:
    """A short stable id of one simulator (its state folder), used in every name it creates."""
    return hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class PodNet:
    """The names and addresses of one simulator's pod network."""

    sim: str

    @property
    def bridge(self) -> str:
        return f"{BRIDGE_PREFIX}{self.sim}"

    def netns(self, slot: int) -> str:
        return f"{NETNS_PREFIX}{self.sim}-{slot}"

    def veth(self, slot: int) -> str:
        return f"{VETH_PREFIX}{self.sim}-{slot}"  # at most 15 characters (IFNAMSIZ) for slot < 1000

    def address(self, slot: int) -> str:
        return str(POD_SUBNET.network_address + slot + 1)

    def ensure_bridge(self) -> None:
        """Create the simulator's bridge (no address, no uplink) unless present."""
        if netns.ip("link", "show", self.bridge, check=False).returncode != 0:
            netns.ip("link", "add", self.bridge, "type", "bridge")
        netns.ip("link", "set", self.bridge, "up")

    def create(self, slot: int) -> str:
        """A fresh namespace for pod ``slot`` with eth0 on the bridge; returns its address."""
        ns, veth, addr = self.netns(slot), self.veth(slot), self.address(slot)
        self.delete(slot)  # a leftover of a crashed agent with the same slot
        netns.ip("netns", "add", ns)
        try:
            netns.ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            netns.ip("link", "set", veth, "master", self.bridge, "up")
            for args in (
                ("addr", "add", f"{addr}/{POD_SUBNET.prefixlen}", "dev", "eth0"),
                ("link", "set", "lo", "up"),
                ("link", "set", "eth0", "up"),
                # A default route without gateway: programs that find "their" address by routing towards
                # a public one (Ray does) find eth0's; such packets reach the bridge and die there.
                ("route", "add", "default", "dev", "eth0"),
            ):
                netns.ip("-n", ns, *args)
        except AiinfraError:
            self.delete(slot)
            raise
        return addr

    def delete(self, slot: int) -> None:
        """Remove pod ``slot``'s namespace (its veth pair goes with it)."""
        netns.ip("netns", "delete", self.netns(slot), check=False)
        netns.ip("link", "delete", self.veth(slot), check=False)

    def path(self, slot: int) -> str:
        """The namespace file, for ``nsenter --net=``."""
        return f"/run/netns/{self.netns(slot)}"

    def sweep(self) -> list[str]:
        """Remove every namespace and the bridge of this simulator; returns what was removed."""
        return sweep(f"{NETNS_PREFIX}{self.sim}-", self.bridge)


def sweep(netns_prefix: str = NETNS_PREFIX, bridge_prefix: str = BRIDGE_PREFIX) -> list[str]:
    """Delete pod namespaces and simulator bridges by prefix (leftovers of any simulator by default)."""
    return netns.sweep(netns_prefix, bridge_prefix)
