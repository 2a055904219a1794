"""A plain torch.distributed loop, no Ray and no aiinfra: the yardstick for ``aiinfra bench``.

The bundled benchmark should reach what this reaches on the same GPUs (within
3%): if it does not, the overhead is ours (placement, actor processes,
environment), not the fabric's. Sizes follow nccl-tests (the all_gather /
reduce_scatter / alltoall size is the whole array), times are CUDA events
around ``--iters`` back-to-back ops after a warm-up, the slowest rank's mean.

    python benchmarks/torch_baseline.py --nprocs 2 --sizes 1M:4G --json baseline.json
    torchrun --nproc-per-node 8 benchmarks/torch_baseline.py --collectives all_reduce,all_gather

On CPU it runs gloo (a smoke test only).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import sys
import time
from collections.abc import Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

FACTOR = {"all_reduce": lambda n: 2 * (n - 1) / n, "all_gather": lambda n: (n - 1) / n,
          "reduce_scatter": lambda n: (n - 1) / n, "alltoall": lambda n: (n - 1) / n}


def sizes(text: str) -> list[int]:
    unit = {"K": 2**10, "M": 2**20, "G": 2**30}

    def one(s: str) -> int:
        return int(s[:-1]) * unit[s[-1].upper()] if s[-1].upper() in unit else int(s)

    lo, _, hi = text.partition(":")
    if not hi:
        return [one(s) for s in lo.split(",")]
    out, s = [], one(lo)
    while s <= one(hi):
        out.append(s)
        s *= 2
    return out


def make_op(coll: str, size: int, world: int, dev: torch.device) -> tuple[Callable[[], object], int]:
    """The op to time and its nccl-tests size in bytes (float32, whole chunks)."""
    n = size // 4 // world * world
    if coll == "all_reduce":
        buf = torch.ones(size // 4, device=dev)
        return (lambda: dist.all_reduce(buf)), size
    if coll == "all_gather":
        inp, out = torch.ones(n // world, device=dev), torch.empty(n, device=dev)
        return (lambda: dist.all_gather_into_tensor(out, inp)), n * 4
    if coll == "reduce_scatter":
        inp, out = torch.ones(n, device=dev), torch.empty(n // world, device=dev)
        return (lambda: dist.reduce_scatter_tensor(out, inp)), n * 4
    inp, out = torch.ones(n, device=dev), torch.empty(n, device=dev)
    return (lambda: dist.all_to_all_single(out, inp)), n * 4


def bench(rank: int, world: int, args: argparse.Namespace) -> list[dict[str, float | int | str]]:
    cuda = torch.cuda.is_available()
    dev = torch.device("cuda", rank % torch.cuda.device_count()) if cuda else torch.device("cpu")
    rows: list[dict[str, float | int | str]] = []
    for coll in args.collectives.split(","):
        for size in sizes(args.sizes):
            op, nbytes = make_op(coll, size, world, dev)
            for _ in range(args.warmup):
                op()
            if cuda:
                torch.cuda.synchronize(dev)
            dist.barrier()
            if cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(args.iters):
                    op()
                end.record()
                end.synchronize()
                t = start.elapsed_time(end) / 1e3 / args.iters
            else:
                t0 = time.perf_counter()
                for _ in range(args.iters):
                    op()
                t = (time.perf_counter() - t0) / args.iters
            slowest = torch.tensor([t], dtype=torch.float64, device=dev)
            dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
            t = float(slowest.item())
            alg = nbytes / t / 1e9
            bus = alg * FACTOR[coll](world)
            rows.append({"coll": coll, "bytes": nbytes, "time_us": t * 1e6, "algbw": alg, "busbw": bus})
            if rank == 0:
                print(f"{coll:>14} {nbytes:>12} B {t * 1e6:12.1f} us  algbw {alg:8.2f}  busbw {bus:8.2f}", flush=True)
            del op
            if cuda:
                torch.cuda.empty_cache()
    return rows


def worker(rank: int, world: int, args: argparse.Namespace, init_method: str) -> None:
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(rank % torch.cuda.device_count())
    dist.init_process_group("nccl" if cuda else "gloo", init_method=init_method, rank=rank,
                            world_size=world, timeout=datetime.timedelta(minutes=10))
    rows = bench(rank, world, args)
    if rank == 0 and args.json:
        env = {"torch": torch.__version__, "world": world, "host": socket.gethostname(),
               "nccl": ".".join(map(str, torch.cuda.nccl.version())) if cuda else None,
               "gpu": torch.cuda.get_device_name() if cuda else None,
               "NCCL_NVLS_ENABLE": os.environ.get("NCCL_NVLS_ENABLE")}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"launcher": "torch.multiprocessing (plain loop)", "environment": env, "results": rows}, f,
                      indent=1)
    dist.destroy_process_group()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nprocs", type=int, default=0, help="processes (default: every GPU, or 2 on CPU)")
    p.add_argument("--collectives", default="all_reduce,all_gather")
    p.add_argument("--sizes", default="1M:4G", help="MIN:MAX (doubling) or a comma list; K/M/G suffixes")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--json", help="write the rows (2xh200-torch-busbw.json layout) and the environment")
    args = p.parse_args()
    if "RANK" in os.environ:  # under torchrun
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        worker(rank, world, args, "env://")
        return 0
    world = args.nprocs or (torch.cuda.device_count() if torch.cuda.is_available() else 2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, args=(world, args, f"tcp://127.0.0.1:{port}"), nprocs=world)
    return 0


if __name__ == "__main__":
    sys.exit(main())
