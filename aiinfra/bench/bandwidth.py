"""Algorithm and bus bandwidth with the nccl-tests conventions.

nccl-tests reports two figures for every size (``doc/PERFORMANCE.md`` and the
``getBw`` functions of ``src/*.cu``):

- ``algbw = S / t``, with ``S`` the *size* column in bytes: the buffer of one
  rank for all_reduce and send/recv, the whole gathered or scattered array
  (chunk x n) for all_gather, reduce_scatter and alltoall;
- ``busbw = algbw x factor``, the factor making the figure comparable with one
  rank's link bandwidth whatever the number of ranks n:
  all_reduce 2(n-1)/n, all_gather / reduce_scatter / alltoall (n-1)/n,
  send/recv 1.

GB/s means 10**9 bytes per second, as nccl-tests divides by 1.0E9.

Example:
    >>> round(busbw(4 * 2**30, 12.3525e-3, "all_reduce", 2), 1)  # the 2x H200 reference
    347.7
"""

from __future__ import annotations

import re
from typing import Final

from aiinfra.bench import collectives
from aiinfra.errors import UsageError

COLLECTIVES: Final = collectives.names()
"""The collectives the bundled benchmark runs, in nccl-tests' naming (one module each in
:mod:`aiinfra.bench.collectives`)."""


def canonical(name: str) -> str:
    """The nccl-tests name of a collective, from any common spelling.

    Example:
        >>> canonical("allreduce"), canonical("all-gather"), canonical("sendrecv")
        ('all_reduce', 'all_gather', 'sendrecv')
    """
    return collectives.lookup(name).name


def bus_factor(collective: str, nranks: int) -> float:
    """busbw / algbw for ``collective`` over ``nranks`` ranks (nccl-tests factors).

    Example:
        >>> bus_factor("all_reduce", 8), bus_factor("all_gather", 8), bus_factor("sendrecv", 8)
        (1.75, 0.875, 1.0)
    """
    if nranks < 1:
        raise UsageError(f"a collective needs at least one rank, not {nranks}")
    return collectives.lookup(collective).bus_factor(nranks)


def algbw(size_bytes: int, seconds: float) -> float:
    """Algorithm bandwidth in GB/s (10**9 bytes/s): the size column over the time of one op.

    Example:
        >>> algbw(2**30, 1e-3)
        1073.741824
    """
    if seconds <= 0:
        return float("inf")
    return size_bytes / seconds / 1e9


def busbw(size_bytes: int, seconds: float, collective: str, nranks: int) -> float:
    """Bus bandwidth in GB/s: :func:`algbw` times :func:`bus_factor`.

    Example:
        >>> round(busbw(8 * 2**30, 14.6511e-3, "all_gather", 2), 1)
        293.1
    """
    return algbw(size_bytes, seconds) * bus_factor(collective, nranks)


def size_is_total(collective: str) -> bool:
    """Whether the size column counts all n chunks (all_gather, reduce_scatter, alltoall).

    Example:
        >>> size_is_total("all_gather"), size_is_total("all_reduce")
        (True, False)
    """
    return collectives.lookup(collective).size_is_total


def elements_per_rank(collective: str, size_bytes: int, nranks: int, itemsize: int) -> int:
    """How many elements one rank's *input* holds for a given size column.

    all_gather's input is one chunk (size / n); reduce_scatter's and alltoall's
    input is the whole array; all_reduce and send/recv use the buffer as is. The
    count is rounded down so that a chunk holds whole elements, as nccl-tests does.

    Example:
        >>> elements_per_rank("all_gather", 1024, 2, 4), elements_per_rank("all_reduce", 1024, 2, 4)
        (128, 256)
    """
    return collectives.lookup(collective).input_count(size_bytes // itemsize, nranks)


def effective_size(collective: str, size_bytes: int, nranks: int, itemsize: int) -> int:
    """The size column actually measured once counts are rounded to whole elements and chunks.

    Example:
        >>> effective_size("all_gather", 1000, 3, 4)  # 83 elements per chunk, 3 chunks
        996
    """
    count = size_bytes // itemsize
    if collectives.lookup(collective).size_is_total:
        count = collectives.whole_chunks(count, nranks)
    return count * itemsize


def count_column(collective: str, size_bytes: int, nranks: int, itemsize: int) -> int:
    """nccl-tests' count column for a size column: one chunk for all_gather, reduce_scatter
    and alltoall (their paramcount), the whole buffer for all_reduce and sendrecv.

    Example:
        >>> count_column("all_gather", 2**20, 4, 4), count_column("all_reduce", 2**20, 4, 4)
        (65536, 262144)
    """
    return collectives.lookup(collective).count_column(size_bytes // itemsize, nranks)


MAX_SIZE = 2**40
"""The largest message a sweep may ask for (1 TiB; no GPU holds that twice)."""


def parse_size(text: str) -> int:
    """Bytes from '4G', '256M', '8K', '1024' (binary units, as nccl-tests' -b/-e).

    Example:
        >>> parse_size("4G"), parse_size("1m"), parse_size("512")
        (4294967296, 1048576, 512)
    """
    raw = text.strip().upper().removesuffix("IB").removesuffix("B")
    m = re.fullmatch(r"([0-9]{1,15}(?:\.[0-9]{0,15})?)([KMGT]?)", raw)
    if not m:
        raise UsageError(f"bad size {text!r}: use bytes or a K/M/G suffix, e.g. 1M or 4G")
    scale = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[m[2]]
    value = int(float(m[1]) * scale) if "." in m[1] else int(m[1]) * scale
    if value <= 0:
        raise UsageError(f"bad size {text!r}: must be positive")
    if value > MAX_SIZE:
        raise UsageError(f"bad size {text!r}: above {MAX_SIZE // 2**30} GiB per operation")
    return value


def size_sweep(min_bytes: int, max_bytes: int, factor: int = 2) -> list[int]:
    """Sizes from min to max multiplying by ``factor`` (nccl-tests -b/-e/-f).

    Example:
        >>> size_sweep(2**20, 2**23, 4)
        [1048576, 4194304, 8388608]
    """
    if min_bytes > max_bytes:
        raise UsageError(f"minimum size {min_bytes} is above the maximum {max_bytes}")
    if factor < 2:
        raise UsageError("size step factor must be at least 2")
    sizes = []
    size = min_bytes
    while size < max_bytes:
        sizes.append(size)
        size *= factor
    sizes.append(max_bytes)
    return sizes


def format_size(size_bytes: int) -> str:
    """Short binary size for table headers and plots.

    Example:
        >>> format_size(4 * 2**30), format_size(3 * 2**20), format_size(1000)
        ('4G', '3M', '1000')
    """
    for unit, scale in (("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if size_bytes >= scale and size_bytes % scale == 0:
            return f"{size_bytes // scale}{unit}"
    return str(size_bytes)
