"""sendrecv: every rank sends its buffer to the next rank and receives from the previous.

nccl-tests' sendrecv: every link carries one stream each way at once. Size column = one
rank's buffer, count column = its elements, busbw factor 1. Only out of place: receiving
into the buffer being sent needs two buffers in torch.distributed. Needs two ranks.

Example:
    >>> SPEC.bus_factor(8), SPEC.count_column(1024, 8), SPEC.min_ranks
    (1.0, 1024, 2)
"""

from __future__ import annotations

from collections.abc import Callable

from aiinfra.bench.collectives import Buffers, Collective, collective


def _run(b: Buffers) -> Callable[[], object]:
    import torch.distributed as dist

    inp, out, n, rank = b.inp, b.out, b.n, b.rank

    def ring() -> None:
        ops = [dist.P2POp(dist.isend, inp, (rank + 1) % n), dist.P2POp(dist.irecv, out, (rank - 1) % n)]
        for req in dist.batch_isend_irecv(ops):
            req.wait()

    return ring


def _fill(b: Buffers) -> None:
    b.inp.fill_(b.rank + 1)


def _wrong(b: Buffers) -> int:
    return int((b.out != (b.rank - 1) % b.n + 1).sum().item())


SPEC = collective(Collective(
    name="sendrecv", order=50, aliases=("send_recv", "send-recv", "p2p"), min_ranks=2,
    bus_factor=lambda n: 1.0, size_is_total=False,
    input_count=lambda count, n: count, output_count=lambda count, n: count,
    count_column=lambda count, n: count, in_place="none",
    run=_run, fill=_fill, wrong=_wrong,
))
