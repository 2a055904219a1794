"""all_reduce: every rank ends with the sum of every rank's buffer.

nccl-tests: size column = one rank's buffer, count column = its elements, busbw factor
2(n-1)/n (a ring sends and receives each byte twice over n-1 steps). torch.distributed's
all_reduce only works in place (output = input buffer), so only nccl-tests' in-place column
is measured; an out-of-place figure would time an extra copy NCCL does not make.

Example:
    >>> SPEC.bus_factor(8), SPEC.count_column(1024, 8)
    (1.75, 1024)
"""

from __future__ import annotations

from collections.abc import Callable

from aiinfra.bench.collectives import Buffers, Collective, collective


def _run(b: Buffers) -> Callable[[], object]:
    import torch.distributed as dist

    buf = b.out
    return lambda: dist.all_reduce(buf)


def _fill(b: Buffers) -> None:
    b.inp.fill_(b.rank + 1)


def _wrong(b: Buffers) -> int:
    return int((b.out != b.n * (b.n + 1) // 2).sum().item())


SPEC = collective(Collective(
    name="all_reduce", order=10, aliases=("allreduce", "all-reduce"), redop="sum",
    bus_factor=lambda n: 2.0 * (n - 1) / n, size_is_total=False,
    input_count=lambda count, n: count, output_count=lambda count, n: count,
    count_column=lambda count, n: count, in_place="same", out_of_place=False,
    run=_run, fill=_fill, wrong=_wrong,
))
