"""Level 3 of the fabric test on a real Ray cluster: one pinned actor per GPU node, node pairs measured per rail.

:class:`RayDataPlane` finds the Ray nodes that advertise GPUs (named as level 2 names them, by the Ray label
``aiinfra.io/k8s-node``: :func:`~aiinfra.net.fabric.node_level_ray.gpu_nodes`), starts one long-lived actor
on each (node affinity, ``soft=False``; no CPU or GPU asked, so it runs beside training), and prepares each
actor's environment with :func:`~aiinfra.nccl.node_env.prepare_worker_env`, the function training and the
benchmark workers call. :meth:`RayDataPlane.measure` is a :data:`~aiinfra.net.fabric.localise.Measure`: one
round, every pair on every rail at once, a two-rank gloo all_reduce each
(:func:`aiinfra.net.fabric.pair_worker.run_round`, the same rounds as the namespace plane), rendezvous through
a TCPStore on the first node of the pair at a port that node found free.

Rails (gloo): each rail is the definition's ``netdev`` when every node has every rail's interface; otherwise
every rail shares the interface of the node's Ray address, and the plane measures that as one rail,
:data:`SHARED_RAIL`, and says so in :attr:`RayDataPlane.notes`. gloo is TCP: over IPoIB or a RoCE netdev it
measures the interface, not RDMA. NCCL per rail (``NCCL_IB_HCA==<hca>:<port>``, a process per rail on every
node) is :mod:`aiinfra.net.fabric.nccl_plane` (``--nccl``).

A test cluster gives its nodes logical GPUs (``num_gpus=N`` on a CPU-only machine): Ray counts them without
hardware, so the same selection holds there.

Example:
    >>> with RayDataPlane.start("auto", d) as plane:                          # doctest: +SKIP
    ...     localise(plane.names, plane.rails, plane.measure, LocaliseConfig(0.9 * 25.0)).faults
    []
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import ray

from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import AiinfraError, UsageError
from aiinfra.local_ports import free_port
from aiinfra.nccl.node_env import prepare_worker_env
from aiinfra.net.fabric.localise import Localisation, LocaliseConfig, Pair, localise
from aiinfra.net.fabric.node_level_ray import RayNode, connect_ray, gpu_nodes
from aiinfra.net.fabric.pair_worker import run_round
from aiinfra.net.fabric.simulate import FLOOR

SHARED_RAIL = "shared"
"""The one rail measured when the rails share an interface (or the definition names none)."""
GLOO_ONLY = ("this plane measures with gloo only; NCCL per rail (NCCL_IB_HCA==<hca>:<port>, a process per rail on "
             "every node) is aiinfra.net.fabric.nccl_plane.NcclRailPlane (aiinfra net test --nccl)")


class PairActor:
    """On one node: the worker environment training gets, then rounds of two-rank measurements."""

    def __init__(self, definition: ClusterDefinition | None) -> None:
        import torch  # noqa: F401  (imported once here, before the first round's clock starts)

        self.env = prepare_worker_env(os.environ, definition, {})

    def describe(self) -> dict[str, Any]:
        """This node's Ray address, its interfaces and the environment prepared."""
        return {"ip": ray.util.get_node_ip_address(), "interfaces": sorted(name for _, name in socket.if_nameindex()),
                "env": self.env}

    def ports(self, k: int) -> list[int]:
        """``k`` distinct free ports here, for the TCPStores this node will host."""
        taken: set[int] = set()
        for _ in range(k):
            taken.add(free_port("", taken))
        return sorted(taken)

    def run_round(self, jobs: list[dict[str, Any]]) -> dict[str, Any]:
        return run_round(jobs)


def select_rails(d: ClusterDefinition | None,
                 interfaces: Sequence[set[str]]) -> tuple[list[str], list[str | None], list[str]]:
    """Rail names, the interface of each (None: the node's Ray address) and notes, for nodes with ``interfaces``.

    Example:
        >>> select_rails(None, [{"lo", "eth0"}, {"lo", "eth0"}])[:2]
        (['shared'], [None])
    """
    rails = d.rails if d is not None else []
    missing = sorted({f"{r.name}:{r.netdev or '(no netdev)'}" for r in rails
                      for have in interfaces if not r.netdev or r.netdev not in have})
    if rails and not missing:
        return [r.name for r in rails], [r.netdev for r in rails], []
    why = f"not every node has every rail's interface ({', '.join(missing)})" if rails else "no rails are defined"
    return [SHARED_RAIL], [None], [f"Ray data plane: {why}; measured one rail '{SHARED_RAIL}' over the interface of "
                                   "each node's Ray address, not per rail"]


def plane_nodes(nodes: list[dict[str, Any]], address: str | None) -> list[RayNode]:
    """The Ray GPU nodes of ``ray.nodes()``; two or more, or :class:`UsageError`.

    Example:
        >>> try:
        ...     plane_nodes([{"NodeID": "ab12cd34ef", "Alive": True, "Resources": {"GPU": 1.0}}], "auto")
        ... except UsageError as exc:
        ...     print(exc)
        --ray auto: the data plane needs 2 or more GPU nodes (Ray nodes with the GPU resource); found 1: ray-ab12cd34
    """
    found = sorted(gpu_nodes(nodes), key=lambda n: n.name)  # ray.nodes() order is the order they joined
    if len(found) < 2:
        raise UsageError(f"--ray {address}: the data plane needs 2 or more GPU nodes (Ray nodes with the GPU "
                         f"resource); found {len(found)}: {', '.join(n.name for n in found) or 'none'}")
    return found


@dataclass
class RayDataPlane:
    """The actors, one per Ray GPU node, and the rails they measure."""

    names: list[str]
    actors: list[Any]
    ips: list[str]
    rails: list[str]
    interfaces: list[str | None]
    notes: list[str] = field(default_factory=list)
    envs: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per node, what :func:`~aiinfra.nccl.node_env.prepare_worker_env` set in its actor."""
    own_ray: bool = False
    message_bytes: int = 2 * 2**20
    iters: int = 3
    timeout_s: float = 300.0

    @classmethod
    def start(cls, address: str | None = None, d: ClusterDefinition | None = None, backend: str = "gloo",
              ready_s: float = 300.0) -> RayDataPlane:
        """Connect (unless this process is a Ray driver already) and start one pinned actor per GPU node."""
        if backend != "gloo":
            raise UsageError(GLOO_ONLY)
        own = connect_ray(address)
        plane = cls([], [], [], [], [], own_ray=own, timeout_s=ready_s)
        try:
            plane._start(plane_nodes(ray.nodes(), address), d, ready_s)
        except BaseException:
            plane.close()
            raise
        return plane

    def _start(self, nodes: list[RayNode], d: ClusterDefinition | None, ready_s: float) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        cls = ray.remote(PairActor)
        run = uuid.uuid4().hex[:8]  # two planes on one cluster (or one driver) must not share actor names
        self.names = [n.name for n in nodes]
        self.actors = [cls.options(
            num_cpus=0, max_restarts=0, name=f"aiinfra-fabric-pair-{n.name}-{run}",
            scheduling_strategy=NodeAffinitySchedulingStrategy(n.node_id, soft=False)).remote(d) for n in nodes]
        info = self._get([a.describe.remote() for a in self.actors], ready_s, "start")
        self.ips = [i["ip"] for i in info]
        self.envs = {n.name: i["env"] for n, i in zip(nodes, info, strict=True)}
        self.rails, self.interfaces, notes = select_rails(d, [set(i["interfaces"]) for i in info])
        self.notes += [*notes, "Ray data plane: gloo over TCP, not RDMA (an RDMA rail's line rate is out of its reach)"]

    def measure(self, pairs: Sequence[Pair]) -> Mapping[Pair, Sequence[float]]:
        """One round: every pair on every rail at once; busbw GB/s per rail (a node may be in several pairs)."""
        index = {name: i for i, name in enumerate(self.names)}
        wanted: dict[int, int] = {}
        for a, _ in pairs:  # the first node of a pair hosts its TCPStores, one per rail
            wanted[index[a]] = wanted.get(index[a], 0) + len(self.rails)
        found = self._get([self.actors[i].ports.remote(k) for i, k in wanted.items()], self.timeout_s, "ports")
        ports = dict(zip(wanted, found, strict=True))
        jobs: dict[int, list[dict[str, Any]]] = {}
        for a, b in pairs:
            i, j = index[a], index[b]
            for r, interface in enumerate(self.interfaces):
                common = {"rail": r, "key": f"{a}/{b}/{r}", "master": self.ips[i], "port": ports[i].pop(),
                          "bytes": self.message_bytes, "iters": self.iters, "timeout": self.timeout_s,
                          "interface": interface}
                for rank, n in ((0, i), (1, j)):
                    # No rail interface: bind the node's Ray address, so every rail shares it.
                    bind = None if interface else self.ips[n]
                    jobs.setdefault(n, []).append({**common, "rank": rank, "hostname": bind})
        refs = [self.actors[n].run_round.remote(js) for n, js in jobs.items()]
        answers = dict(zip(jobs, self._get(refs, self.timeout_s, "round"), strict=True))
        errors = [f"{self.names[n]}: {e}" for n, doc in answers.items() for e in doc["errors"]]
        if errors:
            raise AiinfraError("Ray data plane: " + "; ".join(errors))
        return {(a, b): [float(answers[index[a]]["busbw"][f"{a}/{b}/{r}"]) for r in range(len(self.rails))]
                for a, b in pairs}

    def _get(self, refs: list[Any], timeout: float, what: str) -> list[Any]:
        try:
            return list(ray.get(refs, timeout=timeout))
        except ray.exceptions.GetTimeoutError as exc:
            raise AiinfraError(f"Ray data plane: no answer to {what} within {timeout:.0f}s (a node hung?)") from exc
        except ray.exceptions.RayError as exc:
            last = (str(exc).strip().splitlines() or [""])[-1][:300]
            raise AiinfraError(f"Ray data plane: {what} failed: {type(exc).__name__}: {last}") from exc

    def close(self) -> None:
        """Kill the actors; disconnect when :meth:`start` connected."""
        for a in self.actors:
            try:
                ray.kill(a)
            except Exception:  # best effort: an actor on a dead node is gone already
                pass
        self.actors = []
        if self.own_ray and ray.is_initialized():
            ray.shutdown()

    def __enter__(self) -> RayDataPlane:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def line_rate(d: ClusterDefinition | None, line_gbps: float | None) -> float:
    """The line rate (GB/s per rail) the floor is 90% of: ``--line-gbps``, else the definition's slowest rail.

    Example:
        >>> line_rate(None, 200.0)
        25.0
    """
    if line_gbps is not None:
        if line_gbps <= 0:
            raise UsageError(f"--line-gbps {line_gbps}: a positive rate in Gb/s")
        return line_gbps / 8
    if d is None or not d.rails:
        raise UsageError("--ray level 3 needs a line rate for its floor: --cluster FILE (its rails' rate_gbps) "
                         "or --line-gbps RATE")
    return min(r.rate_gbps for r in d.rails) / 8


@dataclass
class RayLocalisation:
    """Level 3 on a Ray cluster: what localisation found, and notes."""

    loc: Localisation
    notes: list[str]


def localise_on_ray(address: str | None, d: ClusterDefinition | None, line_gb_s: float, screen: int | None,
                    seed: int = 0) -> RayLocalisation:
    """Start the plane, localise at a floor of 90% of ``line_gb_s`` (``screen`` None: every pair), close it."""
    with RayDataPlane.start(address, d) as plane:
        rounds = len(plane.names) - 1 if screen is None else screen
        loc = localise(plane.names, plane.rails, plane.measure, LocaliseConfig(FLOOR * line_gb_s, rounds, seed=seed))
        return RayLocalisation(loc, plane.notes)
