"""The toy regression the training examples share: data, model, device and how they start Ray.

Imported by train_ddp.py and train_checkpoint.py as a sibling module (a script's folder is first on
``sys.path`` both for ``python examples/x.py`` and for ``ray job submit --working-dir . -- python
examples/x.py``). Its functions travel to the Ray Train workers by value inside ``train_loop``, as
the examples' own functions do, so a worker on another machine needs no copy of this file.

Example:
    >>> x, y = synthetic(4)
    >>> tuple(x.shape), tuple(y.shape)
    ((4, 8), (4, 1))
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import ray
import ray.cloudpickle
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

if TYPE_CHECKING:
    from aiinfra.train import WorldInfo

FEATURES = 8


def synthetic(samples: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """y = sin(x . w1) + 0.5 (x . w2) + noise: the same data on every rank (same seed)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, FEATURES, generator=g)
    w1, w2 = torch.randn(FEATURES, 1, generator=g), torch.randn(FEATURES, 1, generator=g)
    y = torch.sin(x @ w1) + 0.5 * (x @ w2) + 0.05 * torch.randn(samples, 1, generator=g)
    return x, y


def shard(samples: int, info: WorldInfo, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """This rank's share of ``synthetic(samples)`` on ``device``: every world_size-th sample from its rank on."""
    x, y = synthetic(samples)
    return x[info.rank :: info.world_size].to(device), y[info.rank :: info.world_size].to(device)


def device_of(info: WorldInfo) -> torch.device:
    """The GPU of this worker's local rank under NCCL (made current), else the CPU (Gloo)."""
    device = torch.device(f"cuda:{info.local_rank}" if info.backend == "nccl" else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def mlp(device: torch.device) -> nn.Module:
    """A small MLP on ``device``, with the same initial weights on every rank (DDP also broadcasts rank 0's)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(FEATURES, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    return model.to(device)


def distributed(model: nn.Module, device: torch.device) -> DistributedDataParallel:
    """``model`` wrapped for data-parallel training on ``device``."""
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def start_ray(workers: int, device: str) -> bool:
    """Join the running cluster (as ``ray job submit`` sets it up) or start a private local one; True when
    the run should use GPUs (``device`` gpu, or auto and the cluster has one per worker)."""
    if os.environ.get("RAY_ADDRESS"):
        ray.init()
    else:  # a private local cluster, so a stray `ray start` elsewhere on the machine is never joined
        ray.init(address="local", num_cpus=max(2, workers), object_store_memory=200 * 1024 * 1024)
    return device == "gpu" or (device == "auto" and ray.cluster_resources().get("GPU", 0) >= workers)


# By value, not by reference: Ray workers unpickling train_loop then never import this module (on
# another machine, a script run outside `ray job submit` has no copy of it).
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
