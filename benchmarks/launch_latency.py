"""Time from aiinfra.launch() on the local default to the first log line of a job,
and the memory of the driver (this) process.

    python benchmarks/launch_latency.py [--workers 2] [--repeat 3]

Prints one line per run and a summary; numbers go into issue notes with the
machine they ran on.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import time
from pathlib import Path

import psutil

import aiinfra

ROOT = Path(__file__).resolve().parent.parent


def one_run(workers: int) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    cluster = aiinfra.launch(ROOT / "clusters" / "local.yaml", workers=workers, name="bench-latency")
    t_ready = time.perf_counter() - t0
    try:
        job = cluster.submit("python -c \"print('first line', flush=True)\"")
        first = None
        for line in job.logs(follow=True):
            if "first line" in line:
                first = time.perf_counter() - t0
                break
        job.wait()
    finally:
        cluster.down()
    assert first is not None, "the job printed nothing"
    return t_ready, first, psutil.Process().memory_info().rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.node()} {psutil.cpu_count()} CPUs {psutil.virtual_memory().total / 2**30:.0f} GiB")
    ready, first = [], []
    for i in range(args.repeat):
        r, f, rss = one_run(args.workers)
        ready.append(r)
        first.append(f)
        print(f"run {i}: launch->ready {r:.1f}s  launch->first log line {f:.1f}s  driver RSS {rss:.0f} MiB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"median launch->ready {statistics.median(ready):.1f}s, launch->first log line "
        f"{statistics.median(first):.1f}s, driver peak RSS {peak:.0f} MiB ({args.workers} workers)"
    )


if __name__ == "__main__":
    main()
