"""Pod network namespaces of process-backed simulator nodes: one bridge per simulator, one veth per pod.

Every pod of a process-backed node gets its own network namespace (every Ray pod listens on the same
fixed ports, so loopback aliases cannot separate them) with ``eth0`` on a bridge private to one
simulator. The bridge has no host address and no uplink: traffic stays between the simulator's own
namespaces and the host never sends to pod addresses. Names carry a short id of the simulator's state
folder, so a sweep by prefix removes exactly one simulator's leftovers (or every simulator's, with
the bare prefix). Everything here shells out to iproute2 and needs root.

Example:
    >>> from aiinfra.sim.netns import PodNet, sim_id
    >>> net = PodNet(sim_id("/tmp/sim"))
    >>> net.bridge, net.netns(3), net.veth(3)
    ('aisb-a872599b', 'aisim-a872599b-3', 'ava872599b-3')
    >>> net.address(3)
    '10.245.0.4'
"""

from __future__ import annotations

import hashlib
import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path

from aiinfra.errors import AiinfraError

NETNS_PREFIX = "aisim-"
BRIDGE_PREFIX = "aisb-"
VETH_PREFIX = "av"
POD_SUBNET = ipaddress.ip_network("10.245.0.0/16")
"""Pod addresses of process nodes; it never appears on the host (the bridge has no address)."""


def sim_id(state_dir: str | Path) -> str:
    """A short stable id of one simulator (its state folder), used in every name it creates."""
    return hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:8]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        out = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise AiinfraError("process-backed nodes need iproute2's 'ip' command (apt-get install iproute2)") from None
    if check and out.returncode != 0:
        raise AiinfraError(f"ip {' '.join(args)} failed: {out.stderr.strip()} (process-backed nodes need root)")
    return out


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
        if _ip("link", "show", self.bridge, check=False).returncode != 0:
            _ip("link", "add", self.bridge, "type", "bridge")
        _ip("link", "set", self.bridge, "up")

    def create(self, slot: int) -> str:
        """A fresh namespace for pod ``slot`` with eth0 on the bridge; returns its address."""
        ns, veth, addr = self.netns(slot), self.veth(slot), self.address(slot)
        self.delete(slot)  # a leftover of a crashed agent with the same slot
        _ip("netns", "add", ns)
        try:
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", veth, "master", self.bridge, "up")
            for args in (
                ("addr", "add", f"{addr}/{POD_SUBNET.prefixlen}", "dev", "eth0"),
                ("link", "set", "lo", "up"),
                ("link", "set", "eth0", "up"),
                # A default route without gateway: programs that find "their" address by routing towards
                # a public one (Ray does) find eth0's; such packets reach the bridge and die there.
                ("route", "add", "default", "dev", "eth0"),
            ):
                _ip("-n", ns, *args)
        except AiinfraError:
            self.delete(slot)
            raise
        return addr

    def delete(self, slot: int) -> None:
        """Remove pod ``slot``'s namespace (its veth pair goes with it)."""
        _ip("netns", "delete", self.netns(slot), check=False)
        _ip("link", "delete", self.veth(slot), check=False)

    def path(self, slot: int) -> str:
        """The namespace file, for ``nsenter --net=``."""
        return f"/run/netns/{self.netns(slot)}"

    def sweep(self) -> list[str]:
        """Remove every namespace and the bridge of this simulator; returns what was removed."""
        return sweep(f"{NETNS_PREFIX}{self.sim}-", self.bridge)


def sweep(netns_prefix: str = NETNS_PREFIX, bridge_prefix: str = BRIDGE_PREFIX) -> list[str]:
    """Delete network namespaces and bridges whose names start with the prefixes (leftovers of any run)."""
    gone = []
    listing = _ip("netns", "list", check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(netns_prefix):
            _ip("netns", "delete", name, check=False)
            gone.append(name)
    for line in _ip("-o", "link", "show", "type", "bridge", check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        if name.startswith(bridge_prefix):
            _ip("link", "delete", name, check=False)
            gone.append(name)
    return gone
