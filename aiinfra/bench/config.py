"""What one benchmark run is: its settings, the environment its workers get, and how the
JSON file records them. Plain data, no torch or Ray.

Example:
    >>> describe(BenchConfig(MeasureSpec(("all_gather",), (1024,))))["in_place"]
    True
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from aiinfra.bench.bandwidth import size_sweep
from aiinfra.bench.spec import MODES, MeasureSpec
from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import UsageError

DEFAULT_SIZES = {"nccl": size_sweep(2**20, 4 * 2**30), "gloo": size_sweep(2**10, 2**20, 4)}
"""1 MiB-4 GiB on GPUs (the plateau needs >= 1 GiB, R4); 1 KiB-1 MiB on CPU, seconds with gloo."""
# Set by the GPU machines this project tests on, and by careful operators: NVLink multicast
# off. Forwarded explicitly so a worker started with its own environment keeps them.
_FORWARDED = ("NCCL_NVLS_ENABLE", "TORCH_SYMM_MEM_DISABLE_MULTICAST", "NVSHMEM_DISABLE_NVLS")


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark run: what to measure, on how many GPUs, grouped how."""

    spec: MeasureSpec
    mode: str = "intra"
    gpus: int | None = None
    """Processes (one per GPU); None: every GPU (2 processes on CPU)."""
    backend: str | None = None
    """'nccl' or 'gloo'; None: NCCL when GPUs are there, else gloo."""
    definition: ClusterDefinition | None = None
    env: dict[str, str] = field(default_factory=dict)
    nccl_log: bool = True
    timeout_s: float = 900.0
    share_gpus: bool = True
    """Let each Ray worker see every GPU of its node, as Ray Train does, not only its own."""
    expect_gb_s: float | None = None
    """busbw every group must reach (``--expect``), judged at every size; any backend, CPU included."""


def with_default_sizes(spec: MeasureSpec, backend: str) -> MeasureSpec:
    """``spec``, with the backend's default sweep when it names no size.

    Example:
        >>> with_default_sizes(MeasureSpec(("all_reduce",), ()), "gloo").sizes[:2]
        (1024, 4096)
    """
    return spec if spec.sizes else replace(spec, sizes=tuple(DEFAULT_SIZES[backend]))


def worker_env(config: BenchConfig) -> dict[str, str]:
    """Environment every worker gets: the multicast switches of this host, the mode's, the user's.

    Example:
        >>> worker_env(BenchConfig(MeasureSpec((), ()), mode="rail"))["NCCL_ALGO"]
        'Ring'
    """
    env = {k: os.environ[k] for k in _FORWARDED if k in os.environ}
    if config.mode == "rail" and "NCCL_ALGO" not in os.environ:
        env["NCCL_ALGO"] = "Ring"
    env.update(config.env)
    return env


def describe(config: BenchConfig) -> dict[str, Any]:
    """The run's settings for the JSON file.

    Example:
        >>> describe(BenchConfig(MeasureSpec(("all_reduce",), (1024,))))["sizes"]
        [1024]
    """
    spec = config.spec
    return {
        "collectives": list(spec.collectives),
        "sizes": list(spec.sizes),
        "dtype": spec.dtype,
        "warmup": spec.warmup,
        "iters": spec.iters,
        "check": spec.check,
        "in_place": spec.in_place,
        "mode": config.mode,
        "gpus": config.gpus,
        "env": worker_env(config),
        "share_gpus": config.share_gpus,
        "expect_gb_s": config.expect_gb_s,
        "cluster": config.definition.source or config.definition.name if config.definition else None,
    }


def with_mode(config: BenchConfig, mode: str) -> BenchConfig:
    """The same run in another mode, checked.

    Example:
        >>> with_mode(BenchConfig(MeasureSpec((), ())), "job").mode
        'job'
    """
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    return replace(config, mode=mode)
