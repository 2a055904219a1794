"""reduce_scatter: rank r ends with chunk r of the sum of every rank's array.

nccl-tests: size column = the whole array (n chunks), count column = one chunk's elements
(size / type / n), busbw factor (n-1)/n, redop sum. In place, each rank's output is its
own chunk of the input buffer (nccl-tests' recvInplaceOffset).

Example:
    >>> SPEC.bus_factor(4), SPEC.count_column(1024, 4), SPEC.output_count(1024, 4)
    (0.75, 256, 256)
"""

from __future__ import annotations

from collections.abc import Callable

from aiinfra.bench.collectives import Buffers, Collective, collective, whole_chunks


def _run(b: Buffers) -> Callable[[], object]:
    import torch.distributed as dist

    out, inp = b.out, b.inp
    return lambda: dist.reduce_scatter_tensor(out, inp)


def _fill(b: Buffers) -> None:
    """Chunk j of rank r holds (j+1)(r+1), so chunk r of the sum is (r+1) n(n+1)/2."""
    n, x = b.n, b.inp
    x.view(n, -1).copy_(b.ramp(n).mul_(b.rank + 1).view(n, 1).expand(n, x.numel() // n))


def _wrong(b: Buffers) -> int:
    return int((b.out != (b.rank + 1) * b.n * (b.n + 1) // 2).sum().item())


SPEC = collective(Collective(
    name="reduce_scatter", order=30, aliases=("reducescatter", "reduce-scatter"), redop="sum",
    bus_factor=lambda n: (n - 1) / n, size_is_total=True,
    input_count=whole_chunks, output_count=lambda count, n: count // n,
    count_column=lambda count, n: count // n, in_place="output_in_input",
    run=_run, fill=_fill, wrong=_wrong,
))
