"""Level 3 of the fabric test through NCCL, per rail: one process per rail on every GPU node, each pinned to its HCA.

NCCL reads its environment once per process, so a rail needs a process of its own on every node:
:class:`NcclRailPlane` starts one Ray actor per GPU of each GPU node (Ray's own accounting: one GPU each), keeps
for each rail of the definition the actor on the rail's GPU (``rails[].gpus[0]``, the GPU next to its HCA;
:func:`assign_rails`) and kills the rest. Each kept actor is a benchmark worker
(:class:`~aiinfra.bench.runner.BenchActor`): a pair on a rail is a two-rank all_reduce measured by the bundled
benchmark's :func:`~aiinfra.bench.worker.run_task`, in the environment training gets
(:func:`~aiinfra.nccl.node_env.prepare_worker_env`) with one change, ``NCCL_IB_HCA==<hca>:<port>``, so the figure
is that HCA's and no other. Every rail is measured at once, as nccl-tests' ``NCCL_TESTS_SPLIT`` does.

NCCL's transport is checked from its own log (:func:`transport_findings`): a pair over ``NET/Socket`` is an
error, and so is ``NET/IB`` without GDRDMA where the definition configures GPUDirect, or traffic through an HCA
other than the rail's. NCCL opens its debug file once per process, so the log read is the first round's, which
measures every node on every rail.

Example:
    >>> with NcclRailPlane.start("auto", d) as plane:                          # doctest: +SKIP
    ...     localise(plane.names, plane.rails, plane.measure, LocaliseConfig(0.9 * 25.0)).faults, plane.findings()
    ([], [])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import ray

from aiinfra.bench.config import BenchConfig, worker_env
from aiinfra.bench.runner import BenchActor, check_worker_versions
from aiinfra.bench.spec import MeasureSpec
from aiinfra.bench.worker import WorkerReport, WorkerTask
from aiinfra.definition.model import ClusterDefinition, GpuDirect, Rail
from aiinfra.errors import AiinfraError, UsageError
from aiinfra.findings import Finding
from aiinfra.local_ports import free_port
from aiinfra.nccl.log import parse_nccl_log
from aiinfra.net.fabric.localise import Pair
from aiinfra.net.fabric.node_level_ray import RayNode, connect_ray
from aiinfra.net.fabric.ray_plane import plane_nodes

PAIR_BYTES = 2**30
"""Bytes per pair all_reduce: 1 GiB, where NCCL's curve has reached its plateau (the bench's MIN_VERDICT_BYTES)."""


class RailActor(BenchActor):
    """A benchmark worker that also hands out several free ports at once (one per pair it hosts in a round)."""

    def ports(self, k: int) -> list[int]:
        taken: set[int] = set()
        for _ in range(k):
            taken.add(free_port("", taken))
        return sorted(taken)


def assign_rails(rails: Sequence[Rail], gpus: Sequence[int]) -> tuple[list[int], list[str]]:
    """For one node with GPUs ``gpus`` (Ray's ids), which GPU measures each rail; and notes.

    A rail is measured through its first GPU; where the node lacks that GPU, through the node's GPUs in order
    (said in a note, since the path to the HCA may then cross PCIe switches).

    Example:
        >>> from aiinfra.definition.model import Rail
        >>> r = [Rail(name=f"rail{i}", hca=f"mlx5_{i}", rate_gbps=200, gpus=[2 * i, 2 * i + 1], network="n")
        ...      for i in range(2)]
        >>> assign_rails(r, [0, 1, 2, 3])
        ([0, 2], [])
        >>> assign_rails(r, [5])
        Traceback (most recent call last):
        aiinfra.errors.UsageError: a node has 1 GPU(s) for 2 rail(s): each rail needs a GPU (and process) of its own
    """
    if len(gpus) < len(rails):
        raise UsageError(f"a node has {len(gpus)} GPU(s) for {len(rails)} rail(s): each rail needs a GPU "
                         "(and process) of its own")
    chosen = [r.gpus[0] if r.gpus and r.gpus[0] in gpus else None for r in rails]
    spare = [g for g in sorted(gpus) if g not in chosen]
    missing = [r.name for r, g in zip(rails, chosen, strict=True) if g is None]
    out = [g if g is not None else spare.pop(0) for g in chosen]
    notes = [f"rail(s) {', '.join(missing)}: their GPU is not on this node; measured through GPU(s) "
             f"{', '.join(str(g) for g, c in zip(out, chosen, strict=True) if c is None)}"] if missing else []
    return out, notes


def transport_findings(where: str, hca: str, log: str, gpudirect: bool) -> list[Finding]:
    """What NCCL's log of one rail's process says about the transport it chose (``where``: ``node:rail``).

    Example:
        >>> log = open("tests/fixtures/nccl/socket-fallback-2node.log").read()
        >>> [(f.code, f.device) for f in transport_findings("gpu-a:rail0", "mlx5_0", log, True)][:1]
        [('nccl-socket-fallback', 'gpu-a:rail0')]
    """
    r = parse_nccl_log(log)
    out: list[Finding] = []
    socket = [f for f in r.findings if f.code in ("socket-fallback", "socket-network") and f.severity == "error"]
    if socket:  # one per node and rail: the pair's two directions and its channels say the same thing
        moved = sum(1 for c in r.connections if c.transport == "NET/Socket")
        out.append(Finding("nccl-socket-fallback", "error", where,
                           f"NCCL moved this rail's data over NET/Socket ({moved} channel connection(s)): TCP through "
                           "the kernel, not RDMA", socket[0].action))
    out += [Finding("nccl-no-gdrdma", "error", where, f.message + " (GPUDirect is configured)", f.action)
            for f in r.findings if f.code == "ib-without-gdr" and gpudirect]
    wrong = sorted({c.hca for c in r.connections if c.transport == "NET/IB" and c.hca and c.hca.split(":")[0] != hca})
    if wrong:
        out.append(Finding("nccl-wrong-hca", "error", where, f"NCCL sent through {', '.join(wrong)}, not {hca}",
                           "NCCL_IB_HCA was pinned to the rail's HCA: check that the HCA exists in the pod and is up"))
    if not r.connections:
        out.append(Finding("nccl-transport-unknown", "warning", where, "NCCL's log shows no channel of this pair",
                           "run again; NCCL_DEBUG_SUBSYS must include INIT"))
    return out


@dataclass
class NcclRailPlane:
    """The rail actors, one per (node, rail), and what their NCCL logs said."""

    names: list[str]
    rails: list[str]
    hcas: list[tuple[str, int]]
    actors: dict[tuple[int, int], Any] = field(default_factory=dict)
    ips: list[str] = field(default_factory=list)
    logs: dict[tuple[int, int], str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    definition: ClusterDefinition | None = None
    backend: str = "nccl"
    message_bytes: int = PAIR_BYTES
    iters: int = 5
    timeout_s: float = 300.0
    own_ray: bool = False

    @classmethod
    def start(cls, address: str | None, d: ClusterDefinition | None, backend: str = "nccl",
              ready_s: float = 300.0) -> NcclRailPlane:
        """Connect (unless a Ray driver already) and start one rail actor per (GPU node, rail) of ``d``."""
        if d is None or not d.rails:
            raise UsageError("--nccl measures each rail through its HCA: give --cluster FILE, whose rails name them")
        plane = cls([], [r.name for r in d.rails], [(r.hca, r.port) for r in d.rails], definition=d,
                    backend=backend, timeout_s=ready_s, own_ray=connect_ray(address))
        try:
            plane._start(plane_nodes(ray.nodes(), address), ready_s)
        except BaseException:
            plane.close()
            raise
        return plane

    def _start(self, nodes: list[RayNode], ready_s: float) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        assert self.definition is not None
        count = {n["NodeID"]: int(float((n.get("Resources") or {}).get("GPU", 0))) for n in ray.nodes()}
        actor_cls: Any = ray.remote(RailActor)
        started = [[actor_cls.options(num_cpus=0, num_gpus=1, max_restarts=0, scheduling_strategy=(
            NodeAffinitySchedulingStrategy(n.node_id, soft=False))).remote() for _ in range(count[n.node_id])]
            for n in nodes]
        where = self._get([[a.where.remote() for a in actors] for actors in started], ready_s, "start")
        check_worker_versions([w for ws in where for w in ws])
        self.names = [n.name for n in nodes]
        self.ips = [ws[0]["ip"] for ws in where]
        for i, (actors, ws) in enumerate(zip(started, where, strict=True)):
            gpus = [int(w["gpu"]) for w in ws]
            chosen, notes = assign_rails(self.definition.rails, gpus)
            self.notes += [f"{self.names[i]}: {n}" for n in notes]
            for r, gpu in enumerate(chosen):
                self.actors[(i, r)] = actors[gpus.index(gpu)]
            for a, g in zip(actors, gpus, strict=True):
                if g not in chosen:
                    ray.kill(a)

    def _get(self, refs: list[Any], timeout: float, what: str) -> list[Any]:
        flat = [x for group in refs for x in (group if isinstance(group, list) else [group])]
        try:
            got = iter(ray.get(flat, timeout=timeout))
        except ray.exceptions.GetTimeoutError as exc:
            raise AiinfraError(f"NCCL data plane: no answer to {what} within {timeout:.0f}s (GPUs busy or a node "
                               "hung?)") from exc
        except ray.exceptions.RayError as exc:
            last = (str(exc).strip().splitlines() or [""])[-1][:300]
            raise AiinfraError(f"NCCL data plane: {what} failed: {type(exc).__name__}: {last}") from exc
        return [[next(got) for _ in group] if isinstance(group, list) else next(got) for group in refs]

    def measure(self, pairs: Sequence[Pair]) -> Mapping[Pair, Sequence[float]]:
        """One round: every pair on every rail at once; busbw GB/s per rail.

        A node in several pairs runs them one after another, in the order given (the same order on every
        actor, so no two actors wait on each other).
        """
        index = {name: i for i, name in enumerate(self.names)}
        wanted: dict[tuple[int, int], int] = {}
        for a, _ in pairs:
            for r in range(len(self.rails)):
                wanted[(index[a], r)] = wanted.get((index[a], r), 0) + 1
        found = self._get([self.actors[k].ports.remote(n) for k, n in wanted.items()], self.timeout_s, "ports")
        ports = dict(zip(wanted, found, strict=True))
        refs: list[Any] = []
        for a, b in pairs:
            i, j = index[a], index[b]
            for r in range(len(self.rails)):
                port = ports[(i, r)].pop()
                refs += [self.actors[(n, r)].run.remote(self._task(f"{a}/{b}/{r}", rank, r, self.ips[i], port))
                         for rank, n in ((0, i), (1, j))]
        reports: list[WorkerReport] = self._get(refs, self.timeout_s, "round")
        out: dict[Pair, list[float]] = {}
        at = iter(reports)
        for a, b in pairs:
            for r in range(len(self.rails)):
                first, second = next(at), next(at)
                for n, rep in ((index[a], first), (index[b], second)):
                    if rep.nccl_log and (n, r) not in self.logs:
                        self.logs[(n, r)] = rep.nccl_log
                out.setdefault((a, b), []).append(max(row.busbw for row in first.rows))
        return out

    def _task(self, group: str, rank: int, rail: int, master: str, port: int) -> WorkerTask:
        hca, hca_port = self.hcas[rail]
        spec = MeasureSpec(("all_reduce",), (self.message_bytes,), warmup=2, iters=self.iters, check=False)
        env = {**worker_env(BenchConfig(spec, mode="rail")), "NCCL_IB_HCA": f"={hca}:{hca_port}"}
        return WorkerTask(spec, group, rank, 2, master, port, self.backend, device_index=0, env=env,
                          definition=self.definition, nccl_log=self.backend == "nccl", timeout_s=self.timeout_s)

    def findings(self) -> list[Finding]:
        """Transport findings from every (node, rail) NCCL log read (none for gloo, which has no such log)."""
        if self.backend != "nccl":
            return []
        gpudirect = self.definition is not None and self.definition.network.gpudirect != GpuDirect.OFF
        out: list[Finding] = []
        for (n, r), log in sorted(self.logs.items()):
            out += transport_findings(f"{self.names[n]}:{self.rails[r]}", self.hcas[r][0], log, gpudirect)
        unread = [f"{self.names[n]}:{self.rails[r]}" for n, r in sorted(self.actors) if (n, r) not in self.logs]
        if unread:
            out.append(Finding("nccl-transport-unknown", "warning", ", ".join(unread), "no NCCL log came back",
                               "run again with NCCL_DEBUG unset in the pods (the plane sets INFO itself)"))
        return out

    def close(self) -> None:
        """Kill the actors; disconnect when :meth:`start` connected."""
        for a in self.actors.values():
            try:
                ray.kill(a)
            except Exception:  # best effort: an actor on a dead node is gone already
                pass
        self.actors = {}
        if self.own_ray and ray.is_initialized():
            ray.shutdown()

    def __enter__(self) -> NcclRailPlane:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
