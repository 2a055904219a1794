"""all_gather: every rank ends with every rank's chunk, in rank order.

nccl-tests: size column = the whole gathered array (n chunks), count column = one chunk's
elements (its paramcount, size / type / n), busbw factor (n-1)/n. In place, each rank's
input is its own chunk of the output buffer (nccl-tests' sendInplaceOffset).

Example:
    >>> SPEC.bus_factor(8), SPEC.count_column(1024, 8), SPEC.input_count(1024, 8)
    (0.875, 128, 128)
"""

from __future__ import annotations

from collections.abc import Callable

from aiinfra.bench.collectives import Buffers, Collective, collective


def _run(b: Buffers) -> Callable[[], object]:
    import torch.distributed as dist

    out, inp = b.out, b.inp
    return lambda: dist.all_gather_into_tensor(out, inp)


def _fill(b: Buffers) -> None:
    b.inp.fill_(b.rank + 1)


def _wrong(b: Buffers) -> int:
    n = b.n
    return int((b.out.view(n, -1) != b.ramp(n).view(n, 1)).sum().item())


SPEC = collective(Collective(
    name="all_gather", order=20, aliases=("allgather", "all-gather"),
    bus_factor=lambda n: (n - 1) / n, size_is_total=True,
    input_count=lambda count, n: count // n, output_count=lambda count, n: (count // n) * n,
    count_column=lambda count, n: count // n, in_place="input_in_output",
    run=_run, fill=_fill, wrong=_wrong,
))
