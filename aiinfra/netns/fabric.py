"""Linux network namespaces as simulated nodes: one bridge per rail, veths, tc rate limits.

Every object lives in namespaces whose names start with a unique prefix: the
nodes' namespaces and one *switch* namespace holding the bridges (one per
rail). The machine's own namespace and interfaces are never touched, and no
traffic leaves the namespaces. :meth:`Fabric.remove` deletes the namespaces
(their veths and bridges go with them); :func:`sweep` removes leftovers of
runs that died, by prefix. Needs root (``ip netns``) and ``tc`` with htb.

Shaping is htb on each node's rail interface (egress): a default class at the
rail rate, and optional per-peer classes selected by destination IP (a slow
link). A pair exchanging data both ways is capped by the slower direction.
The bucket holds 128 KiB: veths hand htb 64 KiB segments (GSO), and a smaller
bucket throttles them far below the rate.

Example:
    >>> with Fabric.create(nodes=2, rails=1, rate_mbit=100) as fabric:   # doctest: +SKIP
    ...     fabric.run(0, ["ping", "-c1", fabric.ip(1, 0)])
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

from aiinfra import netns
from aiinfra.errors import AiinfraError

PREFIX = "aift"
"""Start of every namespace this module creates; :func:`sweep` removes only these."""


def available() -> str | None:
    """None when namespaces can be made here, else why not."""
    return netns.available()


def sweep(prefix: str = PREFIX) -> list[str]:
    """Delete every namespace whose name starts with ``prefix`` (leftovers of a killed run)."""
    return netns.sweep(prefix)


@dataclass
class Fabric:
    """Nodes as namespaces, each with one interface ``rail<r>`` per rail, bridged per rail."""

    prefix: str
    nodes: int
    rails: int
    rate_mbit: float
    namespaces: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, nodes: int, rails: int, rate_mbit: float = 100.0) -> Fabric:
        """Build it; on any failure remove what was made and raise."""
        fabric = cls(f"{PREFIX}{secrets.token_hex(2)}", nodes, rails, rate_mbit)
        try:
            fabric._build()
        except BaseException:
            fabric.remove()
            raise
        return fabric

    @property
    def switch(self) -> str:
        return f"{self.prefix}-sw"

    def ns(self, node: int) -> str:
        return f"{self.prefix}-n{node}"

    def ip(self, node: int, rail: int) -> str:
        """The address of a node on a rail: 10.(200+rail).0.(node+1)."""
        return f"10.{200 + rail}.0.{node + 1}"

    def _build(self) -> None:
        netns.ip("netns", "add", self.switch)
        self.namespaces.append(self.switch)
        netns.ip_in(self.switch, "ip", "link", "set", "lo", "up")
        for r in range(self.rails):
            netns.ip_in(self.switch, "ip", "link", "add", f"br{r}", "type", "bridge")
            netns.ip_in(self.switch, "ip", "link", "set", f"br{r}", "up")
        for n in range(self.nodes):
            ns = self.ns(n)
            netns.ip("netns", "add", ns)
            self.namespaces.append(ns)
            netns.ip_in(ns, "ip", "link", "set", "lo", "up")
            for r in range(self.rails):
                port = f"n{n}r{r}"
                # Created inside the switch namespace: the host's namespace never holds either end.
                veth = ("ip", "link", "add", port, "type", "veth", "peer", "name", f"rail{r}", "netns", ns)
                netns.ip_in(self.switch, *veth)
                netns.ip_in(self.switch, "ip", "link", "set", port, "master", f"br{r}", "up")
                netns.ip_in(ns, "ip", "addr", "add", f"{self.ip(n, r)}/24", "dev", f"rail{r}")
                netns.ip_in(ns, "ip", "link", "set", f"rail{r}", "up")
                self.shape(n, r, self.rate_mbit)

    def shape(self, node: int, rail: int, rate_mbit: float, peers: Sequence[tuple[int, float]] = ()) -> None:
        """Rate-limit a node's rail: ``rate_mbit`` to everyone, or the given rate to each listed peer."""
        ns, dev = self.ns(node), f"rail{rail}"
        subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", dev, "root"],
                       capture_output=True, check=False)
        netns.ip_in(ns, "tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "10")
        netns.ip_in(ns, "tc", "class", "add", "dev", dev, "parent", "1:", "classid", "1:10", "htb",
            "rate", f"{rate_mbit}mbit", "ceil", f"{rate_mbit}mbit", "burst", "128k", "cburst", "128k")
        for k, (peer, peer_rate) in enumerate(peers):
            cls_id = f"1:{20 + k}"
            netns.ip_in(ns, "tc", "class", "add", "dev", dev, "parent", "1:", "classid", cls_id, "htb",
                "rate", f"{peer_rate}mbit", "ceil", f"{peer_rate}mbit", "burst", "128k", "cburst", "128k")
            netns.ip_in(ns, "tc", "filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                "match", "ip", "dst", f"{self.ip(peer, rail)}/32", "flowid", cls_id)

    def popen(self, node: int, argv: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start a process inside a node's namespace, with pipes for stdin and stdout."""
        return subprocess.Popen(["ip", "netns", "exec", self.ns(node), *argv], env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def run(self, node: int, argv: Sequence[str]) -> str:
        """Run a command in a node's namespace; its stdout."""
        done = subprocess.run(["ip", "netns", "exec", self.ns(node), *argv], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise AiinfraError(f"[{self.ns(node)}] {' '.join(argv)}: {done.stderr.strip()}")
        return done.stdout

    def remove(self) -> None:
        """Delete every namespace of this fabric (veths and bridges go with them)."""
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        self.namespaces.clear()

    def __enter__(self) -> Fabric:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.remove()
