"""What a benchmark measures and one row of what it found: plain data, no torch, so verdicts,
reports and their tests run without the training extra.

Example:
    >>> MeasureSpec(collectives=("all_reduce",), sizes=(2**20,)).iters
    20
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

MODES = ("intra", "rail", "job")
"""Which GPUs a benchmark groups: each node's NVLink, one GPU per node per rail, or the whole job.
Plain data here so the command line offers them without loading the definition model."""


@dataclass(frozen=True)
class MeasureSpec:
    """What to measure: collectives, sizes (nccl-tests size column, bytes), dtype, repetitions."""

    collectives: tuple[str, ...]
    sizes: tuple[int, ...]
    dtype: str = "float32"
    warmup: int = 5
    iters: int = 20
    check: bool = True
    in_place: bool = True
    """Measure nccl-tests' in-place column too, where torch.distributed has one (all_reduce has only it)."""


@dataclass(frozen=True)
class SizeResult:
    """One row of the table: a collective at one size, over one group of ranks."""

    collective: str
    size: int
    """nccl-tests size column in bytes (whole array for all_gather/reduce_scatter/alltoall)."""
    count: int
    """nccl-tests' count column: elements of one rank's chunk for all_gather / reduce_scatter (size / type / n),
    of the buffer for the others."""
    dtype: str
    nranks: int
    time_us: float
    """Mean time of one op on the slowest rank, microseconds."""
    algbw: float
    busbw: float
    wrong: int
    """Elements that differed from the expected result in the check op; -1 when not checked."""
    rank_time_us: tuple[float, ...] = ()
    placement: str = "out-of-place"
    """nccl-tests' column group: 'out-of-place' (distinct buffers) or 'in-place' (one buffer)."""


def judged_rows(rows: list[SizeResult]) -> list[SizeResult]:
    """One row per collective and size for the verdicts: out-of-place where measured (the figure
    nccl-tests' references quote), else in-place; wrong elements of either placement count.

    Example:
        >>> r = SizeResult("all_gather", 8, 1, "float32", 2, 1.0, 8.0, 4.0, 0)
        >>> [(x.placement, x.wrong) for x in judged_rows([r, dataclasses.replace(r, placement="in-place", wrong=3)])]
        [('out-of-place', 3)]
    """
    chosen: dict[tuple[str, int], SizeResult] = {}
    wrong: dict[tuple[str, int], int] = {}
    for r in rows:
        key = (r.collective, r.size)
        if key not in chosen or r.placement == "out-of-place":
            chosen[key] = r
        if r.wrong >= 0:
            wrong[key] = wrong.get(key, 0) + r.wrong
    return [dataclasses.replace(r, wrong=wrong.get(k, r.wrong)) for k, r in chosen.items()]
