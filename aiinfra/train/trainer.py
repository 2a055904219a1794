"""Distributed PyTorch training on the connected Ray cluster: a thin layer over Ray Train.

:func:`fit` runs ``train_loop`` on one worker per GPU (or on CPU workers) with
Ray Train's TorchTrainer, and adds what a GPU + InfiniBand cluster needs:

* the NCCL environment of each node set on every worker before the process
  group starts (:mod:`aiinfra.nccl.node_env` from the node's hardware, else the
  definition's declared environment; your ``env`` last);
* node choice by :mod:`aiinfra.placement.plan` (fewest leaf groups) and a
  rank order that keeps each leaf contiguous, so a ring crosses the fewest switches;
* the rank -> node map, logged and returned, with leaves used and ring crossings.

Inside the loop use ``torch.distributed.get_rank()`` or :func:`aiinfra.train.world_info` for the
rank: with topology ordering it can differ from ``ray.train.get_context().get_world_rank()``.

Example:
    >>> def loop(config):
    ...     info = world_info()
    ...     print(info.rank, info.world_size, info.node_id[:8])
    >>> result = fit(loop, workers=2)  # doctest: +SKIP
    >>> result.rank_map[0].node_id  # doctest: +SKIP
    '5becd8d3...'
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiinfra.contract import FAKE_GPUS_ENV, STORAGE_PATH_ENV
from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import UsageError
from aiinfra.placement.options import PlacementOptions
from aiinfra.placement.plan import Plan, plan
from aiinfra.placement.ray import DefinitionLike, nodes_from_ray, resolve_definition
from aiinfra.placement.topology import RankSlot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitResult:
    """Ray Train's Result plus where every rank ran and what environment it got."""

    result: Any
    """ray.train.Result: metrics, checkpoint, error."""
    backend: str
    rank_map: dict[int, RankSlot]
    nccl_env: dict[str, dict[str, str]]
    """Node id -> the variables aiinfra set on that node's workers."""
    leaves: dict[str, int]
    """domains_used, ring_crossings, best_ring_crossings, ray_order_ring_crossings (leaf level)."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """Every metrics dict rank 0 passed to :func:`report`, in order."""
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    """Node id -> what its workers run (Python, Ray, torch, CUDA, NCCL); fit() refuses workers that differ."""

    @property
    def metrics(self) -> dict[str, Any]:
        """The last metrics: rank 0's last :func:`report`, else those of Ray Train's last checkpoint."""
        return dict(self.history[-1]) if self.history else dict(self.result.metrics or {})

    def describe(self) -> str:
        """Rank map lines for logs: rank, node, ip, local rank, leaf."""
        lines = [f"{len(self.rank_map)} ranks ({self.backend}); leaves: {self.leaves}"]
        for rank, s in sorted(self.rank_map.items()):
            lines.append(f"  rank {rank}: node {s.node_id[:12]} ip {s.ip} local_rank {s.local_rank} leaf {s.leaf}")
        return "\n".join(lines)


def fit(
    train_loop: Callable[..., None],
    *,
    gpus: int = 0,
    workers: int | None = None,
    cluster_def: DefinitionLike = None,
    config: Mapping[str, Any] | None = None,
    backend: str | None = None,
    strategy: str = "PACK",
    cpus_per_worker: float = 1,
    topology_labels: Sequence[str] | None = None,
    rank_order: str = "topology",
    env: Mapping[str, str] | None = None,
    name: str | None = None,
    storage_path: str | None = None,
    max_failures: int = 0,
) -> FitResult:
    """Train on ``gpus`` GPU workers (NCCL) or ``workers`` CPU workers (gloo); return the result and rank map.

    ``cluster_def`` (object, path, or None for the one the pod carries) supplies the
    NCCL environment, topology labels and GPUs per node. ``config`` is passed to
    ``train_loop(config)``. Raises AiinfraError up front when the cluster can never
    fit the job.

    Checkpoints go to ``storage_path``, else the pod's ``AIINFRA_STORAGE_PATH`` (the definition's
    ``ray.storage``), else Ray Train's local default; a run whose workers span more than one machine
    is refused without shared storage. ``max_failures`` restarts the worker group after a worker or
    node failure; ``ray.train.get_checkpoint()`` in the loop then returns the last checkpoint.

    Example:
        >>> r = fit(loop, gpus=16, cluster_def="clusters/h100-ndr.yaml", config={"lr": 1e-3})  # doctest: +SKIP
        >>> print(r.describe())  # doctest: +SKIP
    """
    import ray

    count = _worker_count(gpus, workers, rank_order)
    d = resolve_definition(cluster_def)
    placement = PlacementOptions.from_definition(
        d, resource="GPU" if gpus else "CPU", strategy=strategy, cpus_per_gpu=cpus_per_worker,
        topology_labels=topology_labels,
    )  # fmt: skip
    # Fail before Ray Train waits on a placement group that can never be satisfied.
    planned = plan(nodes_from_ray(), count, placement)
    log.info("planned: %s", planned.describe())
    storage_path = checkpoint_storage(storage_path, os.environ, d, planned)
    sink, sink_name = _report_sink()
    try:
        trainer, backend_name = _trainer(
            train_loop, count, bool(gpus), placement, d, dict(config or {}), backend, rank_order,
            dict(env or {}), (sink, sink_name), name, (storage_path, max_failures),
        )  # fmt: skip
        with _sigint_kept():
            result = trainer.fit()
        raw, history = ray.get(sink.get.remote())
        report = raw or {}
    finally:
        ray.kill(sink)
    out = _fit_result(result, report, backend_name, history)
    log.info("aiinfra.train.fit done: %s", out.describe())
    return out


@contextlib.contextmanager
def _sigint_kept() -> Iterator[None]:
    """Ctrl-C during fit() aborts the run (Ray Train's handler); after it, Ctrl-C is the caller's again.

    Ray Train leaves its handler installed when fit() returns, bound to the finished run's controller: a
    later Ctrl-C (a notebook's interrupt, a test runner's) then fails with "Can't find actor" instead of
    raising KeyboardInterrupt.
    """
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGINT) if main else None
    try:
        yield
    finally:
        if main and before is not None:
            signal.signal(signal.SIGINT, before)


def _report_sink() -> tuple[Any, str]:
    """The named actor rank 0's reports go to, on the driver's node: a worker node may die mid-run
    (max_failures), and the sink must outlive it."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from aiinfra.train.backend import ReportSink

    name = f"aiinfra-fit-{uuid.uuid4().hex[:12]}"
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return ReportSink.options(name=name, scheduling_strategy=here).remote(), name  # type: ignore[attr-defined]


def _fit_result(result: Any, report: dict[str, Any], backend_name: str, history: Any) -> FitResult:
    """What rank 0 reported (backend, rank map, NCCL environment, leaves) around Ray Train's result."""
    return FitResult(
        result=result,
        backend=report.get("backend", backend_name),
        rank_map={s["rank"]: RankSlot.from_dict(s) for s in report.get("rank_map", [])},
        nccl_env=report.get("nccl_env", {}),
        leaves=report.get("leaves", {}),
        history=history,
        versions=report.get("versions", {}),
    )


def _worker_count(gpus: int, workers: int | None, rank_order: str) -> int:
    if gpus and workers is not None and workers != gpus:
        raise UsageError(f"one worker per GPU: workers={workers} does not match gpus={gpus}")
    count = gpus or workers or 0
    if count < 1:
        raise UsageError("fit() needs gpus=N (one worker per GPU) or workers=N (CPU workers)")
    if rank_order not in ("topology", "ray"):
        raise UsageError(f"rank_order must be 'topology' or 'ray', not '{rank_order}'")
    return count


def _trainer(
    train_loop: Callable[..., None], count: int, use_gpu: bool, placement: PlacementOptions,
    d: ClusterDefinition | None, config: dict[str, Any], backend: str | None, rank_order: str,
    env: dict[str, str], sink: tuple[Any, str], name: str | None, storage: tuple[str | None, int],
) -> tuple[Any, str]:  # fmt: skip
    """Ray Train's TorchTrainer with aiinfra's backend (NCCL env, rank order) and node selection."""
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from aiinfra.train.backend import AiinfraTorchConfig, NodeSelection

    torch_config = AiinfraTorchConfig(
        backend=backend or _default_backend(int(use_gpu)), definition=d, env=env,
        topology_labels=placement.topology_labels, rank_order=rank_order, sink=sink[0], sink_name=sink[1],
    )  # fmt: skip
    # Ray Train V2 runs any RayTrainCallback it is given (its types say UserCallback only).
    callbacks: list[Any] = [NodeSelection(placement)]
    cpus = placement.cpus_per_gpu
    per_worker = {"GPU": 1, "CPU": cpus} if use_gpu else {"CPU": cpus}
    trainer = TorchTrainer(
        train_loop,
        train_loop_config=config,
        torch_config=torch_config,
        scaling_config=ScalingConfig(
            num_workers=count, use_gpu=use_gpu, resources_per_worker=per_worker,
            placement_strategy=placement.strategy,
        ),
        run_config=RunConfig(
            name=name,
            storage_path=storage[0],
            callbacks=callbacks,
            failure_config=FailureConfig(max_failures=storage[1]),
        ),
    )
    return trainer, torch_config.backend or ""


def checkpoint_storage(
    given: str | None, environ: Mapping[str, str], d: ClusterDefinition | None, planned: Plan
) -> str | None:
    """Ray Train's storage_path: ``given``, else the pod's AIINFRA_STORAGE_PATH, else the definition's ray.storage.

    None (Ray Train's local default) is refused when the planned workers span machines: each would
    write its checkpoints where the others, and a restarted worker, cannot read them.

    Example:
        >>> from aiinfra.placement.plan import NodeInfo, plan
        >>> one = plan([NodeInfo("n0", ip="10.0.0.1", resources={"CPU": 4})], 2, resource="CPU")
        >>> checkpoint_storage(None, {}, None, one) is None
        True
        >>> checkpoint_storage(None, {"AIINFRA_STORAGE_PATH": "/mnt/ray-storage"}, None, one)
        '/mnt/ray-storage'
    """
    if given:
        return given
    declared = d.ray.storage if d is not None and d.ray is not None else None
    path = environ.get(STORAGE_PATH_ENV) or (declared.storage_path if declared is not None else None)
    hosts = sorted({r.ip or r.node_id for r in planned.ranks})
    if path is None and len(hosts) > 1:
        where = (d.source or f"definition '{d.name}'") if d is not None else "the cluster definition"
        raise UsageError(
            f"multi-node training ({len(hosts)} machines: {', '.join(hosts)}) needs storage every node shares for "
            f"Ray Train's checkpoints: set ray.storage in {where} (pvc, nfs or uri) and relaunch the cluster, "
            "or pass fit(storage_path=...) with a shared path or an object store URI"
        )
    return path


def _default_backend(gpus: int) -> str:
    """NCCL on GPU workers, gloo on CPU workers and where the GPUs are simulated (AIINFRA_FAKE_GPUS=1).

    Example:
        >>> _default_backend(0)
        'gloo'
    """
    return "nccl" if gpus and os.environ.get(FAKE_GPUS_ENV) != "1" else "gloo"
