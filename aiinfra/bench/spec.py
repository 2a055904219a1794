"""What a benchmark measures and one row of what it found: plain data, no torch, so verdicts,
reports and their tests run without the training extra.

Example:
    >>> MeasureSpec(collectives=("all_reduce",), sizes=(2**20,)).iters
    20
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MeasureSpec:
    """What to measure: collectives, sizes (nccl-tests size column, bytes), dtype, repetitions."""

    collectives: tuple[str, ...]
    sizes: tuple[int, ...]
    dtype: str = "float32"
    warmup: int = 5
    iters: int = 20
    check: bool = True


@dataclass(frozen=True)
class SizeResult:
    """One row of the table: a collective at one size, over one group of ranks."""

    collective: str
    size: int
    """nccl-tests size column in bytes (whole array for all_gather/reduce_scatter/alltoall)."""
    count: int
    """size / element size, nccl-tests count column."""
    dtype: str
    nranks: int
    time_us: float
    """Mean time of one op on the slowest rank, microseconds."""
    algbw: float
    busbw: float
    wrong: int
    """Elements that differed from the expected result in the check op; -1 when not checked."""
    rank_time_us: tuple[float, ...] = ()
