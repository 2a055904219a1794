"""What a worker of :func:`aiinfra.train.fit` calls inside its loop: report, its place in the job.

Example:
    >>> rank_map()  # outside a training worker
    {}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiinfra.errors import UsageError
from aiinfra.placement.topology import RankSlot


def report(metrics: Mapping[str, Any], checkpoint: Any = None) -> None:
    """Inside a fit() worker: ``ray.train.report`` on every rank, and rank 0's metrics kept for FitResult.

    Call it on every rank (Ray Train expects all workers to report).

    Example:
        >>> report({"epoch": 1, "loss": 0.5})  # doctest: +SKIP
    """
    import ray
    import ray.train
    import torch.distributed as dist

    from aiinfra.contract import SINK_ENV

    ray.train.report(dict(metrics), checkpoint=checkpoint)
    sink_name = os.environ.get(SINK_ENV)
    if sink_name and dist.is_initialized() and dist.get_rank() == 0:
        # Waits for the sink, so the driver sees every report once fit() returns.
        ray.get(ray.get_actor(sink_name).add_metrics.remote(dict(metrics)))


@dataclass(frozen=True)
class WorldInfo:
    """This worker's place in the job, as aiinfra ranked it."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    node_rank: int
    node_id: str
    ip: str
    leaf: str | None
    backend: str


def rank_map() -> dict[int, RankSlot]:
    """Inside a fit() worker: rank -> node, ip, local rank, leaf ({} elsewhere).

    Example:
        >>> rank_map()  # outside a training worker
        {}
    """
    from aiinfra.contract import RANK_MAP_ENV

    raw = os.environ.get(RANK_MAP_ENV)
    return {s["rank"]: RankSlot.from_dict(s) for s in json.loads(raw)} if raw else {}


def world_info() -> WorldInfo:
    """Inside a fit() worker: rank, world size, local rank, node and leaf of this process.

    Example:
        >>> world_info().rank  # doctest: +SKIP
        0
    """
    import torch.distributed as dist

    from aiinfra.contract import BACKEND_ENV

    ranks = rank_map()
    if not ranks or not dist.is_initialized():
        raise UsageError("world_info() works inside a worker of aiinfra.train.fit (no process group here)")
    me = ranks[dist.get_rank()]
    local = sum(1 for s in ranks.values() if s.node_id == me.node_id)
    return WorldInfo(
        me.rank, len(ranks), me.local_rank, local, me.bundle_index, me.node_id, me.ip, me.leaf,
        os.environ.get(BACKEND_ENV, ""),
    )  # fmt: skip
