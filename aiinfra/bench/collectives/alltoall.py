"""alltoall: chunk j of rank r goes to rank j, as chunk r there.

nccl-tests: size column = one rank's whole buffer (n chunks), count column = one chunk's
elements (its paramcount, count / n), busbw factor (n-1)/n. nccl-tests' in-place run
sends from and receives into one buffer; torch.distributed's all_to_all_single needs two,
so only the out-of-place column is measured.

Example:
    >>> SPEC.bus_factor(4), SPEC.count_column(1000, 4), SPEC.input_count(1001, 4)
    (0.75, 250, 1000)
"""

from __future__ import annotations

from collections.abc import Callable

from aiinfra.bench.collectives import Buffers, Collective, collective, whole_chunks


def _run(b: Buffers) -> Callable[[], object]:
    import torch.distributed as dist

    out, inp = b.out, b.inp
    return lambda: dist.all_to_all_single(out, inp)


def _fill(b: Buffers) -> None:
    """Chunk j of rank r holds r*n + j + 1."""
    n, x = b.n, b.inp
    x.view(n, -1).copy_(b.ramp(n).add_(b.rank * n).view(n, 1).expand(n, x.numel() // n))


def _wrong(b: Buffers) -> int:
    n = b.n  # chunk i came from rank i, its chunk r: i*n + r + 1
    return int((b.out.view(n, -1) != b.ramp(n).sub_(1).mul_(n).add_(b.rank + 1).view(n, 1)).sum().item())


SPEC = collective(Collective(
    name="alltoall", order=40, aliases=("all_to_all", "all-to-all", "a2a"),
    bus_factor=lambda n: (n - 1) / n, size_is_total=True,
    input_count=whole_chunks, output_count=whole_chunks,
    count_column=lambda count, n: count // n, in_place="none",
    run=_run, fill=_fill, wrong=_wrong,
))
