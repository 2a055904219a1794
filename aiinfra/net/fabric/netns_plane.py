"""A real data plane on one machine: nodes as network namespaces, rails as bridges, gloo between them.

Each node is a namespace (:mod:`aiinfra.netns`) with one interface per rail,
every rail shaped with tc htb to ``rate_mbit``; one long-lived worker per node
(:mod:`aiinfra.net.fabric.pair_worker`) measures all_reduce busbw with the peer
it is paired with, every rail at once. :meth:`NetnsDataPlane.measure` is a
:data:`~aiinfra.net.fabric.localise.Measure`, so :func:`~aiinfra.net.fabric.localise.localise`
runs on it unchanged. Faults are tc rates: a slow node (every rail), a slow
rail of one node, or a slow link (an htb class per peer, chosen by destination
IP, on both ends).

The floor is 75% of what TCP can carry on the shaped rate (1448 payload bytes
of each 1538 on the wire: 94%), not the fabric's 90%: here the readings' noise
comes from a shared CPU (gloo and TCP on two cores), far above the 3% of a
real rail, so the floor sits between healthy and the injected 50%.

Example:
    >>> with NetnsDataPlane.start(nodes=8, rails=2) as plane:   # doctest: +SKIP
    ...     plane.slow_node(3)
    ...     localise(plane.names, plane.rails, plane.measure, LocaliseConfig(plane.floor)).faults
    [Fault(kind='node', node='ns3', rail=None, peer=None)]
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from aiinfra.errors import AiinfraError
from aiinfra.net.fabric.localise import Pair
from aiinfra.netns.fabric import Fabric

TCP_EFFICIENCY = 1448 / 1538
"""TCP payload per Ethernet frame on the wire (MSS 1448 with timestamps, 1500 MTU plus framing)."""
FAULT_FRACTION = 0.5
FLOOR_FRACTION = 0.75


@dataclass
class NetnsDataPlane:
    """Namespaces, their workers, and the faults injected so far."""

    fabric: Fabric
    workers: list[Any]
    message_bytes: int = 2 * 2**20
    iters: int = 3
    _port: int = 29500
    peers: dict[tuple[int, int], list[tuple[int, float]]] = field(default_factory=dict)

    @classmethod
    def start(cls, nodes: int = 8, rails: int = 2, rate_mbit: float = 100.0, ready_s: float = 600.0) -> NetnsDataPlane:
        """Build the namespaces and start one worker per node (torch imports once per worker)."""
        fabric = Fabric.create(nodes, rails, rate_mbit)
        plane = cls(fabric, [])
        try:
            env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]), OMP_NUM_THREADS="1")
            argv = [sys.executable, "-m", "aiinfra.net.fabric.pair_worker"]
            plane.workers = [fabric.popen(n, argv, env) for n in range(nodes)]
            for n, w in enumerate(plane.workers):
                plane._read(n, w)
        except BaseException:
            plane.close()
            raise
        return plane

    @property
    def names(self) -> list[str]:
        return [f"ns{n}" for n in range(self.fabric.nodes)]

    @property
    def rails(self) -> list[str]:
        return [f"rail{r}" for r in range(self.fabric.rails)]

    @property
    def line_gb_s(self) -> float:
        return self.fabric.rate_mbit * 1e6 / 8 / 1e9

    @property
    def floor(self) -> float:
        return FLOOR_FRACTION * self.line_gb_s * TCP_EFFICIENCY

    def slow_node(self, node: int) -> None:
        for r in range(self.fabric.rails):
            self.fabric.shape(node, r, self.fabric.rate_mbit * FAULT_FRACTION)

    def slow_rail(self, node: int, rail: int) -> None:
        self.fabric.shape(node, rail, self.fabric.rate_mbit * FAULT_FRACTION)

    def slow_link(self, a: int, b: int, rail: int) -> None:
        for x, y in ((a, b), (b, a)):
            self.peers.setdefault((x, rail), []).append((y, self.fabric.rate_mbit * FAULT_FRACTION))
            self.fabric.shape(x, rail, self.fabric.rate_mbit, self.peers[(x, rail)])

    def heal(self) -> None:
        """Every rail back to the full rate, no per-peer classes."""
        self.peers.clear()
        for n in range(self.fabric.nodes):
            for r in range(self.fabric.rails):
                self.fabric.shape(n, r, self.fabric.rate_mbit)

    def measure(self, pairs: Sequence[Pair]) -> Mapping[Pair, Sequence[float]]:
        """One round: every pair on every rail at once; busbw GB/s per rail."""
        index = {name: i for i, name in enumerate(self.names)}
        jobs: dict[int, list[dict[str, Any]]] = {}
        for a, b in pairs:
            i, j = index[a], index[b]
            for r in range(self.fabric.rails):
                self._port = 29500 + (self._port - 29499) % 20000
                common = {"rail": r, "master": self.fabric.ip(i, r), "port": self._port,
                          "bytes": self.message_bytes, "iters": self.iters}
                jobs.setdefault(i, []).append({**common, "rank": 0})
                jobs.setdefault(j, []).append({**common, "rank": 1})
        for n, js in jobs.items():
            self.workers[n].stdin.write(json.dumps({"jobs": js}) + "\n")
            self.workers[n].stdin.flush()
        answers = {n: self._read(n, self.workers[n]) for n in jobs}
        out: dict[Pair, list[float]] = {}
        for a, b in pairs:
            i = index[a]
            out[(a, b)] = [float(answers[i]["busbw"][str(r)]) for r in range(self.fabric.rails)]
        return out

    def _read(self, n: int, worker: Any) -> dict[str, Any]:
        line = worker.stdout.readline()
        if not line:
            raise AiinfraError(f"worker of node {n} exited: {worker.stderr.read()[-2000:]}")
        doc: dict[str, Any] = json.loads(line)
        if doc.get("errors"):
            raise AiinfraError(f"worker of node {n}: {'; '.join(doc['errors'])}")
        return doc

    def close(self) -> None:
        """Stop the workers and remove the namespaces."""
        for w in self.workers:
            if w.poll() is None:
                w.stdin.close()
                w.terminate()
            try:
                w.wait(timeout=10)
            except Exception:
                w.kill()
        self.fabric.remove()

    def __enter__(self) -> NetnsDataPlane:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
