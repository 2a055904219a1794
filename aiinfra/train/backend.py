"""The Ray Train seams :mod:`aiinfra.train.trainer` plugs into (Ray Train V2, Ray >= 2.52).

* :class:`AiinfraTorchConfig` replaces ``TorchConfig``; its backend runs in the
  Train controller after the workers start and before any process group exists:
  it sets each node's NCCL environment on every worker, computes a
  topology-ordered rank for each worker, and only then initialises
  torch.distributed with those ranks (NCCL reads its environment at init).
* :class:`NodeSelection` is a controller callback that restricts the worker
  group's placement group to the nodes :func:`aiinfra.placement.plan.plan` picks
  (fewest leaves), through a ``ray.io/node-id in (...)`` bundle label selector.

Example:
    >>> AiinfraTorchConfig(backend="gloo").backend_cls.__name__
    'AiinfraTorchBackend'
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import ray
from ray.train.torch import TorchConfig
from ray.train.torch.config import _TorchBackend
from ray.train.v2._internal.execution.callback import ControllerCallback

from aiinfra.contract import BACKEND_ENV, RANK_MAP_ENV, SINK_ENV
from aiinfra.definition.model import ClusterDefinition
from aiinfra.definition.versions import runtime_mismatch
from aiinfra.errors import AiinfraError
from aiinfra.local_ports import free_port
from aiinfra.nccl.node_env import prepare_worker_env
from aiinfra.placement.fabric_labels import load_fabric_labels, with_fabric_labels
from aiinfra.placement.options import PlacementOptions
from aiinfra.placement.topology import RankSlot, WorkerSpot, leaf_order_report, ring_crossings, topology_rank_order
from aiinfra.worker_versions import runtime_versions

log = logging.getLogger(__name__)


@ray.remote(num_cpus=0)
class ReportSink:
    """Carries the backend's report (rank map, NCCL env) and rank 0's metrics back to fit().

    Ray Train V2 keeps only metrics that come with a checkpoint in its Result;
    this keeps every report of rank 0 without needing shared storage.
    """

    def __init__(self) -> None:
        self.report: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] = []

    def put(self, report: dict[str, Any]) -> None:
        self.report = report
        self.history = []  # a restarted worker group starts its history again

    def add_metrics(self, metrics: dict[str, Any]) -> None:
        self.history.append(metrics)

    def get(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        return self.report, self.history


@dataclass
class AiinfraTorchConfig(TorchConfig):
    """TorchConfig plus what aiinfra applies before the process group starts."""

    definition: ClusterDefinition | None = None
    env: dict[str, str] = field(default_factory=dict)
    """User environment, applied last on every worker."""
    topology_labels: tuple[str, ...] = ()
    rank_order: str = "topology"
    """'topology': leaves contiguous in rank order; 'ray': Ray Train's own order."""
    sink: Any = None
    sink_name: str = ""

    @property
    def backend_cls(self) -> type[AiinfraTorchBackend]:
        return AiinfraTorchBackend


def prepare_env_on_worker(definition: ClusterDefinition | None, user_env: dict[str, str]) -> dict[str, str]:
    """Runs on each Ray Train worker: the same preparation as a benchmark worker's."""
    return prepare_worker_env(os.environ, definition, user_env)


def _address_and_port() -> tuple[str, int]:
    return ray.util.get_node_ip_address(), free_port("")


def _init_process_group(backend: str, rank: int, world_size: int, addr: str, port: int, timeout_s: int,
                        rank_map_json: str, sink_name: str) -> None:  # fmt: skip
    import torch.distributed as dist

    os.environ.update({"MASTER_ADDR": addr, "MASTER_PORT": str(port), RANK_MAP_ENV: rank_map_json,
                       BACKEND_ENV: backend, SINK_ENV: sink_name})  # fmt: skip
    if backend == "nccl":
        # Fail on a hung collective instead of waiting forever (Ray Train does the same).
        os.environ.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1")
    dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world_size,
                            timeout=timedelta(seconds=timeout_s))  # fmt: skip


def _set_rank_env() -> None:
    """torchrun-style variables from aiinfra's rank map (Ray Train would set its own ranks)."""
    import torch.distributed as dist

    slots = [RankSlot.from_dict(s) for s in json.loads(os.environ[RANK_MAP_ENV])]
    me = slots[dist.get_rank()]
    on_node = [s for s in slots if s.node_id == me.node_id]
    os.environ.update({"RANK": str(me.rank), "WORLD_SIZE": str(len(slots)), "LOCAL_RANK": str(me.local_rank),
                       "LOCAL_WORLD_SIZE": str(len(on_node)), "NODE_RANK": str(me.bundle_index)})  # fmt: skip


class AiinfraTorchBackend(_TorchBackend):
    """_TorchBackend with the NCCL environment and topology rank order applied first."""

    def on_start(self, worker_group: Any, backend_config: AiinfraTorchConfig) -> None:  # type: ignore[override]
        cfg = backend_config
        backend = cfg.backend or ("nccl" if worker_group.get_resources_per_worker().get("GPU", 0) > 0 else "gloo")
        envs = worker_group.execute(prepare_env_on_worker, cfg.definition, dict(cfg.env))
        workers = worker_group.get_workers()
        spots = [
            WorkerSpot(w.metadata.node_id, w.metadata.node_ip, w.distributed_context.node_rank,
                       w.distributed_context.local_rank)
            for w in workers
        ]  # fmt: skip
        versions = worker_group.execute(runtime_versions)
        found = runtime_mismatch(
            {f"worker {i} (node {w.node_id[:12]})": v for i, (w, v) in enumerate(zip(spots, versions, strict=True))}
        )
        if found:  # before any process group: a mixed group would fail or hang in its first collective
            raise AiinfraError(found)
        # In a RayCluster the fabric labels (leaf, spine) come from the mounted ConfigMap, joined by the
        # Kubernetes node each Ray node carries (aiinfra.placement.fabric_labels), as the planner joins them.
        fabric = load_fabric_labels()
        labels = {n["NodeID"]: with_fabric_labels(n.get("Labels") or {}, fabric) for n in ray.nodes()}
        slots = topology_rank_order(spots, labels, cfg.topology_labels, reorder=cfg.rank_order == "topology")
        by_rank = sorted(slots, key=lambda s: s.rank)
        ray_order = [s.domains[0] if s.domains else None for s in slots]  # slot i is Ray's rank i
        report = {
            "backend": backend,
            "rank_map": [s.as_dict() for s in by_rank],
            "nccl_env": {s.node_id: env for s, env in zip(slots, envs, strict=True)},
            "versions": {w.node_id: v for w, v in zip(spots, versions, strict=True)},
            "leaves": {**leaf_order_report(by_rank), "ray_order_ring_crossings": ring_crossings(ray_order)},
        }
        log.info("aiinfra rank map (%s): %s", backend, json.dumps(report["rank_map"]))
        if cfg.sink is not None:
            ray.get(cfg.sink.put.remote(report))
        first = next(i for i, s in enumerate(slots) if s.rank == 0)
        addr, port = worker_group.execute_single(first, _address_and_port)
        rank_map_json = json.dumps(report["rank_map"])
        ray.get([
            worker_group.execute_single_async(i, _init_process_group, backend, s.rank, len(slots), addr, port,
                                              cfg.timeout_s, rank_map_json, cfg.sink_name)
            for i, s in enumerate(slots)
        ])  # fmt: skip

    def on_training_start(self, worker_group: Any, backend_config: Any) -> None:
        super().on_training_start(worker_group, backend_config)
        worker_group.execute(_set_rank_env)


class NodeSelection(ControllerCallback):
    """Restricts each new worker group to the nodes the planner picks (fewest leaves)."""

    def __init__(self, placement: PlacementOptions) -> None:
        self.placement = placement

    def on_controller_start_worker_group(self, *, scaling_config: Any, num_workers: int) -> dict[str, str] | None:
        from aiinfra.placement.plan import plan
        from aiinfra.placement.ray import nodes_from_ray

        try:
            chosen = plan(nodes_from_ray(), num_workers, self.placement)
        except AiinfraError as exc:  # fit() checked up front; leave a changed cluster to Ray
            log.warning("no topology-aware node choice for %d workers: %s", num_workers, exc)
            return None
        log.info("aiinfra node choice: %s", chosen.describe())
        return {"ray.io/node-id": f"in({','.join(sorted(set(chosen.node_order)))})"}
