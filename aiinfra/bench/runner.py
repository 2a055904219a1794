"""Launch the benchmark processes: Ray actors placed on the cluster, or local processes.

Modes (which process groups are formed):

- ``intra``: one group per node, all its GPUs: the NVLink figure of each node;
- ``rail``: one group per rail, one GPU per node (the GPU the rail serves), all
  rails at once like nccl-tests' ``NCCL_TESTS_SPLIT="MOD 8"``: the fabric's
  figure per rail. NCCL_ALGO=Ring unless set, since 2-node Tree over-reports
  the network (R9);
- ``job``: one group of every GPU.

:func:`run_ray` places one actor per GPU with the placement layer and forms
the groups from where the actors landed; :func:`run_local` spawns plain
``torch.multiprocessing`` processes on this machine (no Ray), the comparison
and the CPU path CI runs.

Example:
    >>> from aiinfra.bench.spec import MeasureSpec
    >>> cfg = BenchConfig(MeasureSpec(("all_reduce",), (2**20,)), backend="gloo", gpus=2)
    >>> run_local(cfg).groups[0].rows[0].wrong  # doctest: +SKIP
    0
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import socket
import time
import traceback
from typing import Any

from aiinfra.bench import layout as bench_layout
from aiinfra.bench.config import BenchConfig, describe, with_default_sizes, worker_env
from aiinfra.bench.results import BenchResult, Layout, Member, assemble
from aiinfra.bench.worker import WorkerReport, WorkerTask, host_ip, run_task
from aiinfra.definition.versions import runtime_mismatch
from aiinfra.errors import AiinfraError, UsageError
from aiinfra.local_ports import free_port
from aiinfra.worker_versions import runtime_versions


def run_local(config: BenchConfig) -> BenchResult:
    """Run the groups as plain processes on this machine (torch.multiprocessing, no Ray).

    Example:
        >>> run_local(BenchConfig(MeasureSpec(("all_gather",), (2**16,)), backend="gloo")).failed  # doctest: +SKIP
        False
    """
    import torch

    started = time.time()
    if config.mode == "rail":
        raise UsageError("rail mode needs several nodes: run it through Ray (without --local)")
    backend = config.backend or ("nccl" if torch.cuda.is_available() else "gloo")
    n = config.gpus or (torch.cuda.device_count() if backend == "nccl" else 2)
    if backend == "nccl" and n > torch.cuda.device_count():
        raise UsageError(f"{n} processes asked for, {torch.cuda.device_count()} GPUs here")
    host = socket.gethostname()
    layout = Layout(f"node {host}", "node", [Member(host, host, "127.0.0.1", i if backend == "nccl" else None, i)
                                             for i in range(n)])
    port = free_port("127.0.0.1")
    tasks = [
        WorkerTask(with_default_sizes(config.spec, backend), layout.name, rank, n, "127.0.0.1", port, backend,
                   device_index=rank if backend == "nccl" else None, env=worker_env(config),
                   definition=config.definition,
                   nccl_log=config.nccl_log, timeout_s=config.timeout_s)
        for rank in range(n)
    ]
    ctx = mp.get_context("spawn")
    results: Any = ctx.Queue()
    procs = [ctx.Process(target=_local_entry, args=(t, results), daemon=True) for t in tasks]
    for p in procs:
        p.start()
    reports = _collect(results, procs, config.timeout_s)
    result = assemble("torch.multiprocessing", config.mode, backend, [layout], reports, config.definition, started,
                      config.expect_gb_s)
    result.config = describe(config)
    return result


def _local_entry(task: WorkerTask, results: Any) -> None:
    try:
        results.put(run_task(task))
    except BaseException:  # the driver must hear about any failure, or it waits forever
        results.put(f"rank {task.rank}: {traceback.format_exc()}")


def _collect(results: Any, procs: list[Any], timeout_s: float) -> list[WorkerReport]:
    reports: list[WorkerReport] = []
    deadline = time.monotonic() + timeout_s
    while len(reports) < len(procs):
        try:
            item = results.get(timeout=max(0.1, min(5.0, deadline - time.monotonic())))
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                _stop(procs)
                why = f"process exited with code {dead[0].exitcode}" if dead else f"no result in {timeout_s:.0f} s"
                raise AiinfraError(f"benchmark failed: {why}") from None
            continue
        if isinstance(item, str):
            _stop(procs)
            raise AiinfraError(f"benchmark worker failed: {item.strip().splitlines()[-1]}\n{item}")
        reports.append(item)
    for p in procs:
        p.join(timeout=30)
    return reports


def check_worker_versions(where: list[dict[str, Any]]) -> None:
    """Refuse workers that could not run one process group (torch, NCCL, Ray or Python differ).

    Example:
        >>> w = {"host": "n1", "node_id": "ab", "versions": {"torch": "2.5.1"}}
        >>> check_worker_versions([w, {**w, "host": "n2", "versions": {"torch": "2.4.0"}}])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        aiinfra.errors.AiinfraError: workers run different torch: 2.4.0 on worker 1 (n2); 2.5.1 on worker 0 (n1) ...
    """
    found = runtime_mismatch({f"worker {i} ({w['host']})": w.get("versions") or {} for i, w in enumerate(where)})
    if found:
        raise AiinfraError(found)


def _stop(procs: list[Any]) -> None:
    for p in procs:
        if p.is_alive():
            p.terminate()
        p.join(timeout=10)


class BenchActor:
    """The Ray actor behind each GPU: says where it landed, opens a port, runs a task."""

    def where(self) -> dict[str, Any]:
        import ray

        ctx = ray.get_runtime_context()
        gpus = ctx.get_accelerator_ids().get("GPU", [])
        return {"node_id": ctx.get_node_id(), "ip": host_ip(), "host": socket.gethostname(),
                "gpu": int(gpus[0]) if gpus else None, "versions": runtime_versions()}

    def port(self) -> int:
        return free_port("")

    def run(self, task: WorkerTask) -> WorkerReport:
        return run_task(task)


def run_ray(config: BenchConfig, address: str | None = None) -> BenchResult:
    """Run the groups as Ray actors, one per GPU, placed by the placement layer.

    Connects to ``address`` (or RAY_ADDRESS, or the cluster a ``ray job`` runs in);
    without one, starts a local Ray instance on this machine.

    Example:
        >>> run_ray(BenchConfig(MeasureSpec(("all_reduce",), (2**30,)), mode="intra"))  # doctest: +SKIP
    """
    import ray

    started = time.time()
    own_ray = not ray.is_initialized()
    if own_ray:
        ray.init(address=address, log_to_driver=True, include_dashboard=False)
    try:
        return _run_on_ray(config, started)
    finally:
        if own_ray:  # leave a caller's Ray connection alone, but not one we opened
            ray.shutdown()


def _run_on_ray(config: BenchConfig, started: float) -> BenchResult:
    import ray
    from ray.exceptions import GetTimeoutError, RayError

    gpus_total = int(ray.cluster_resources().get("GPU", 0))
    backend = config.backend or ("nccl" if gpus_total else "gloo")
    # One GPU per worker wherever the cluster has GPUs, even for gloo: the rank -> GPU -> rail
    # map is what intra and rail modes group by (and what lets CI test them on fake GPUs).
    per_worker_gpu = 1 if gpus_total else 0
    n = config.gpus or (gpus_total or 2)
    if per_worker_gpu and n > gpus_total:
        raise UsageError(f"{n} GPUs asked for, the Ray cluster has {gpus_total}")
    placed = bench_layout.place_workers(n, per_worker_gpu, config.definition, config.timeout_s)
    actor_cls: Any = ray.remote(BenchActor)
    actors = [actor_cls.options(**opts).remote() for opts in placed.options]
    try:
        where = ray.get([a.where.remote() for a in actors], timeout=config.timeout_s)
        members = [Member(w["host"], w["node_id"], w["ip"], w["gpu"], i) for i, w in enumerate(where)]
        check_worker_versions(where)
        layouts = bench_layout.layouts(config.mode, members, config.definition)
        env = worker_env(config)
        pending = []
        for layout in layouts:
            idx = [m.slot for m in layout.members]
            port = ray.get(actors[idx[0]].port.remote(), timeout=60)
            spec = with_default_sizes(config.spec, backend)
            for rank, i in enumerate(idx):
                visible, device = _visibility(members, members[i], config.share_gpus and backend == "nccl")
                task = WorkerTask(
                    spec,
                    layout.name,
                    rank,
                    len(idx),
                    layout.members[0].ip,
                    port,
                    backend,
                    device_index=device,
                    visible_devices=visible,
                    env=env,
                    definition=config.definition,
                    nccl_log=config.nccl_log,
                    timeout_s=config.timeout_s,
                )
                pending.append(actors[i].run.remote(task))
        reports = ray.get(pending, timeout=config.timeout_s)
    except GetTimeoutError:
        raise AiinfraError(f"benchmark unfinished after {config.timeout_s:.0f} s: a rank hung (see Ray logs)") from None
    except RayError as exc:
        raise AiinfraError(f"benchmark worker failed: {exc}") from exc
    finally:
        for a in actors:
            ray.kill(a)
        placed.release()
    result = assemble("ray", config.mode, backend, layouts, reports, config.definition, started, config.expect_gb_s)
    result.environment["ray"] = ray.__version__
    result.config = describe(config)
    result.environment["placement"] = placed.description
    return result


def _visibility(members: list[Member], me: Member, share: bool) -> tuple[str | None, int]:
    """CUDA_VISIBLE_DEVICES and device index for one Ray worker.

    Ray shows each actor only its own GPU. Sharing the node's GPUs (Ray Train's default,
    RAY_TRAIN_ENABLE_SHARE_CUDA_VISIBLE_DEVICES) lets CUDA and NCCL see the peers directly.
    """
    if not share or me.gpu is None:
        return None, 0
    mine = sorted({m.gpu for m in members if m.node_id == me.node_id and m.gpu is not None})
    return ",".join(str(g) for g in mine), mine.index(me.gpu)
