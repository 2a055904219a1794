"""The measuring loop that runs inside each benchmark process (one per GPU).

The process group must already be initialised (``aiinfra.bench.worker`` does
it). For every collective and size: allocate the buffers once, run one op on
known values and count the wrong elements, then warm up and time ``iters``
ops back to back, the way nccl-tests does (CUDA events around the loop on a
GPU, ``time.perf_counter`` on CPU where gloo ops are synchronous). The time of
one size is the slowest rank's mean, so a straggler shows in the figure.

Example (inside an initialised process group):
    >>> spec = MeasureSpec(collectives=("all_reduce",), sizes=(2**20,))
    >>> rows = measure(spec, device=torch.device("cpu"))  # doctest: +SKIP
    >>> rows[0].busbw  # doctest: +SKIP
    1.93...
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.distributed as dist

from aiinfra.bench.bandwidth import algbw, bus_factor, canonical, effective_size, elements_per_rank
from aiinfra.bench.spec import MeasureSpec, SizeResult

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "float64": torch.float64}


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype for a name such as 'float32' or 'bfloat16'.

    Example:
        >>> torch_dtype("bfloat16")
        torch.bfloat16
    """
    return _DTYPES[name]


class _Case:
    """Buffers of one collective at one size: fill with known values, run, count wrong elements."""

    def __init__(self, coll: str, size: int, n: int, rank: int, dtype: torch.dtype, device: torch.device) -> None:
        self.coll, self.n, self.rank = coll, n, rank
        count = elements_per_rank(coll, size, n, torch.empty((), dtype=dtype).element_size())
        self.inp = torch.empty(count, dtype=dtype, device=device)
        if coll == "all_gather":
            self.out = torch.empty(count * n, dtype=dtype, device=device)
        elif coll == "reduce_scatter":
            self.out = torch.empty(count // n, dtype=dtype, device=device)
        elif coll in ("alltoall", "sendrecv"):
            self.out = torch.empty_like(self.inp)
        else:  # all_reduce works in place, like nccl-tests' in-place column
            self.out = self.inp

    def op(self) -> Callable[[], object]:
        inp, out, n, rank = self.inp, self.out, self.n, self.rank
        if self.coll == "all_reduce":
            return lambda: dist.all_reduce(inp)
        if self.coll == "all_gather":
            return lambda: dist.all_gather_into_tensor(out, inp)
        if self.coll == "reduce_scatter":
            return lambda: dist.reduce_scatter_tensor(out, inp)
        if self.coll == "alltoall":
            return lambda: dist.all_to_all_single(out, inp)

        # send/recv as nccl-tests' sendrecv: every rank sends to the next and receives
        # from the previous at once, so every link carries one stream each way.
        def ring() -> None:
            ops = [dist.P2POp(dist.isend, inp, (rank + 1) % n), dist.P2POp(dist.irecv, out, (rank - 1) % n)]
            for req in dist.batch_isend_irecv(ops):
                req.wait()

        return ring

    def fill(self) -> None:
        """Small integers, so every sum below is exact even in bf16 (n <= 8 gives at most 288)."""
        n, r, x = self.n, self.rank, self.inp
        if self.coll in ("all_reduce", "all_gather", "sendrecv"):
            x.fill_(r + 1)
        elif self.coll == "reduce_scatter":
            x.view(n, -1).copy_(_ramp(n, x).mul_(r + 1).view(n, 1).expand(n, x.numel() // n))
        else:  # alltoall: chunk j of rank r holds r*n + j + 1
            x.view(n, -1).copy_(_ramp(n, x).add_(r * n).view(n, 1).expand(n, x.numel() // n))

    def wrong(self) -> int:
        n, r, out = self.n, self.rank, self.out
        if out.numel() == 0:
            return 0
        if self.coll == "all_reduce":
            bad = out != n * (n + 1) // 2
        elif self.coll == "all_gather":
            bad = out.view(n, -1) != _ramp(n, out).view(n, 1)
        elif self.coll == "reduce_scatter":
            bad = out != (r + 1) * n * (n + 1) // 2
        elif self.coll == "alltoall":  # chunk i came from rank i, its chunk r
            bad = out.view(n, -1) != _ramp(n, out).sub_(1).mul_(n).add_(r + 1).view(n, 1)
        else:
            bad = out != (r - 1) % n + 1
        return int(bad.sum().item())


def _ramp(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.arange(1, n + 1, dtype=like.dtype, device=like.device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_loop(op: Callable[[], object], iters: int, device: torch.device) -> float:
    """Mean seconds per op over ``iters`` ops issued back to back."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            op()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / iters
    t0 = time.perf_counter()
    for _ in range(iters):
        op()
    return (time.perf_counter() - t0) / iters


def measure(spec: MeasureSpec, device: torch.device) -> list[SizeResult]:
    """Run the sweep in this process; every rank of the group must call it with the same spec.

    Example:
        >>> measure(MeasureSpec(("all_gather",), (2**20,)), torch.device("cuda", 0))  # doctest: +SKIP
    """
    n, rank = dist.get_world_size(), dist.get_rank()
    dtype = torch_dtype(spec.dtype)
    itemsize = torch.empty((), dtype=dtype).element_size()
    rows: list[SizeResult] = []
    for name in spec.collectives:
        coll = canonical(name)
        if coll == "sendrecv" and n < 2:
            continue
        for size in spec.sizes:
            case = _Case(coll, size, n, rank, dtype, device)
            op = case.op()
            wrong = -1
            if spec.check:
                case.fill()
                dist.barrier()
                op()
                _sync(device)
                wrong = case.wrong()
            for _ in range(spec.warmup):
                op()
            _sync(device)
            dist.barrier()
            seconds = _time_loop(op, max(1, spec.iters), device)
            times = _gather_floats([seconds, float(wrong)], device)
            slowest = max(t for t, _ in times)
            wrong_total = -1 if wrong < 0 else int(sum(w for _, w in times))
            measured = effective_size(coll, size, n, itemsize)
            rows.append(
                SizeResult(
                    collective=coll,
                    size=measured,
                    count=measured // itemsize,
                    dtype=spec.dtype,
                    nranks=n,
                    time_us=slowest * 1e6,
                    algbw=algbw(measured, slowest),
                    busbw=algbw(measured, slowest) * bus_factor(coll, n),
                    wrong=wrong_total,
                    rank_time_us=tuple(t * 1e6 for t, _ in times),
                )
            )
            del case, op
            if device.type == "cuda":
                # Give the big buffers back before the next size, so 4-8 GiB sweeps fit.
                torch.cuda.empty_cache()
    return rows


def _gather_floats(values: list[float], device: torch.device) -> list[tuple[float, float]]:
    """Every rank's (time, wrong) pair, in rank order; NCCL needs the tensors on the GPU."""
    n = dist.get_world_size()
    mine = torch.tensor(values, dtype=torch.float64, device=device)
    everyone = torch.empty(n * len(values), dtype=torch.float64, device=device)
    dist.all_gather_into_tensor(everyone, mine)
    flat = everyone.cpu().tolist()
    return [(flat[i * 2], flat[i * 2 + 1]) for i in range(n)]
