"""The measuring loop that runs inside each benchmark process (one per GPU).

The process group must already be initialised (``aiinfra.bench.worker`` does
it). For every collective (:mod:`aiinfra.bench.collectives`), size and placement
(nccl-tests' out-of-place and in-place columns, where torch.distributed can do
them): allocate the buffers once, run one op on known values and count the wrong
elements, then warm up and time ``iters`` ops back to back, the way nccl-tests
does (CUDA events around the loop on a GPU, ``time.perf_counter`` on CPU where
gloo ops are synchronous). The time of one size is the slowest rank's mean, so a
straggler shows in the figure.

Example (inside an initialised process group):
    >>> spec = MeasureSpec(collectives=("all_gather",), sizes=(2**20,))
    >>> rows = measure(spec, device=torch.device("cpu"))  # doctest: +SKIP
    >>> [(r.placement, round(r.busbw, 2)) for r in rows]  # doctest: +SKIP
    [('out-of-place', 1.93), ('in-place', 2.01)]
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import torch
import torch.distributed as dist

from aiinfra.bench import collectives
from aiinfra.bench.bandwidth import algbw, count_column, effective_size
from aiinfra.bench.collectives import Buffers, Collective
from aiinfra.bench.spec import MeasureSpec, SizeResult

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "float64": torch.float64}


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype for a name such as 'float32' or 'bfloat16'.

    Example:
        >>> torch_dtype("bfloat16")
        torch.bfloat16
    """
    return _DTYPES[name]


def buffers(
    c: Collective, placement: str, size: int, n: int, rank: int, dtype: torch.dtype, device: torch.device
) -> Buffers:
    """One rank's buffers for ``c`` at ``size`` (size column, bytes), laid out as nccl-tests does.

    Out of place, input and output are distinct; in place they share one allocation as the
    collective's ``in_place`` says (all_gather's input is this rank's chunk of the output).

    Example:
        >>> b = buffers(collectives.lookup("all_gather"), "in-place", 64, 2, 1, torch.float32, torch.device("cpu"))
        >>> b.inp.data_ptr() - b.out.data_ptr(), b.out.numel()
        (32, 16)
    """
    count = size // torch.empty((), dtype=dtype).element_size()
    n_in, n_out = c.input_count(count, n), c.output_count(count, n)

    def alloc(k: int) -> torch.Tensor:
        return torch.empty(k, dtype=dtype, device=device)

    if placement == "out-of-place":
        inp, out = alloc(n_in), alloc(n_out)
    elif c.in_place == "same":
        inp = out = alloc(n_in)
    elif c.in_place == "input_in_output":
        out = alloc(n_out)
        inp = out.narrow(0, rank * n_in, n_in)
    elif c.in_place == "output_in_input":
        inp = alloc(n_in)
        out = inp.narrow(0, rank * n_out, n_out)
    else:
        raise ValueError(f"{c.name} has no in-place layout")
    return Buffers(inp, out, rank, n, lambda k: torch.arange(1, k + 1, dtype=dtype, device=device))


INJECT_DELAY_ENV = "AIINFRA_BENCH_INJECT_DELAY_S"
"""Test only: 'RANK:SECONDS' makes that rank sleep before each timed op, a straggler on demand
(tests/test_bench_cpu.py shows a verdict failing on it). Never set it in a real run."""


def _slowed(op: Callable[[], object], rank: int) -> Callable[[], object]:
    target, _, seconds = os.environ.get(INJECT_DELAY_ENV, "").partition(":")
    if not seconds or not target.isdecimal() or int(target) != rank:
        return op
    delay = float(seconds)

    def slowed() -> object:
        time.sleep(delay)
        return op()

    return slowed


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


def _check(c: Collective, b: Buffers, op: Callable[[], object], device: torch.device) -> int:
    """Wrong elements after one op on known values."""
    c.fill(b)
    dist.barrier()
    op()
    _sync(device)
    return 0 if b.out.numel() == 0 else c.wrong(b)


def _measure_one(spec: MeasureSpec, c: Collective, placement: str, size: int, device: torch.device) -> SizeResult:
    n, rank = dist.get_world_size(), dist.get_rank()
    dtype = torch_dtype(spec.dtype)
    itemsize = torch.empty((), dtype=dtype).element_size()
    b = buffers(c, placement, size, n, rank, dtype, device)
    op = c.run(b)
    wrong = _check(c, b, op, device) if spec.check else -1
    for _ in range(spec.warmup):
        op()
    _sync(device)
    dist.barrier()
    seconds = _time_loop(_slowed(op, rank), max(1, spec.iters), device)
    times = _gather_floats([seconds, float(wrong)], device)
    slowest = max(t for t, _ in times)
    measured = effective_size(c.name, size, n, itemsize)
    return SizeResult(
        collective=c.name,
        size=measured,
        count=count_column(c.name, size, n, itemsize),
        dtype=spec.dtype,
        nranks=n,
        time_us=slowest * 1e6,
        algbw=algbw(measured, slowest),
        busbw=algbw(measured, slowest) * c.bus_factor(n),
        wrong=-1 if wrong < 0 else int(sum(w for _, w in times)),
        rank_time_us=tuple(t * 1e6 for t, _ in times),
        placement=placement,
    )


def measure(spec: MeasureSpec, device: torch.device) -> list[SizeResult]:
    """Run the sweep in this process; every rank of the group must call it with the same spec.

    Example:
        >>> measure(MeasureSpec(("all_gather",), (2**20,)), torch.device("cuda", 0))  # doctest: +SKIP
    """
    n = dist.get_world_size()
    rows: list[SizeResult] = []
    for name in spec.collectives:
        c = collectives.lookup(name)
        if n < c.min_ranks:
            continue
        placements = [p for p in c.placements if spec.in_place or p == "out-of-place"] or list(c.placements[:1])
        for size in spec.sizes:
            for placement in placements:
                rows.append(_measure_one(spec, c, placement, size, device))
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
