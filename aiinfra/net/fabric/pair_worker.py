"""One node's benchmark process on the namespace fabric: gloo all_reduce with one peer per rail.

Reads one JSON line per round on stdin, ``{"jobs": [{"rail", "rank", "master", "port", "bytes",
"iters"}]}``, runs every job at once (one thread per rail, each process group bound to that rail's
interface, as ``GLOO_SOCKET_IFNAME=rail<r>`` would), and answers ``{"busbw": {rail: GB/s}}``. A job may
name the interface (``"interface"``, default ``rail<r>``) or the address to bind (``"hostname"``): the
Ray data plane (:mod:`aiinfra.net.fabric.ray_plane`) runs the same rounds through :func:`run_round`. For two
ranks all_reduce moves the buffer once each way, so busbw = algbw = bytes / time (nccl-tests'
factor 2(n-1)/n = 1).

Run by :mod:`aiinfra.net.fabric.netns_plane` as ``ip netns exec NS python -m
aiinfra.net.fabric.pair_worker``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import timedelta
from typing import Any


def measure(job: dict[str, Any]) -> float:
    """busbw in GB/s of an all_reduce of ``bytes`` between two ranks over the job's interface."""
    import torch
    import torch.distributed as dist

    timeout = timedelta(seconds=float(job.get("timeout", 120)))
    store = dist.TCPStore(job["master"], int(job["port"]), 2, job["rank"] == 0, timeout=timeout)
    gloo: Any = dist.ProcessGroupGloo  # private options API: typed loosely, checked by the netns test
    opts = gloo._Options()
    opts._devices = [gloo.create_device(**device(job))]
    opts._timeout = timeout
    pg: Any = gloo(store, job["rank"], 2, opts)
    data = torch.ones(int(job["bytes"]) // 4, dtype=torch.float32)
    pg.allreduce([data]).wait()  # warm-up: connections, buffers
    pg.barrier().wait()
    started = time.perf_counter()
    for _ in range(int(job["iters"])):
        pg.allreduce([data]).wait()
    elapsed = time.perf_counter() - started
    pg.barrier().wait()
    return int(job["bytes"]) * int(job["iters"]) / elapsed / 1e9


def device(job: dict[str, Any]) -> dict[str, str]:
    """Where gloo binds: the job's address (``hostname``), else its interface (default ``rail<r>``).

    Example:
        >>> device({"rail": 1}), device({"rail": 0, "interface": "ib0"}), device({"rail": 0, "hostname": "10.0.0.5"})
        ({'interface': 'rail1'}, {'interface': 'ib0'}, {'hostname': '10.0.0.5'})
    """
    if job.get("hostname"):
        return {"hostname": str(job["hostname"])}
    return {"interface": str(job.get("interface") or f"rail{job['rail']}")}


def _run(job: dict[str, Any], out: dict[str, float], errors: list[str]) -> None:
    try:
        out[str(job.get("key", job["rail"]))] = measure(job)
    except Exception as exc:  # reported to the driver, which fails the round
        errors.append(f"rail{job['rail']}: {exc}")


def run_round(jobs: list[dict[str, Any]]) -> dict[str, Any]:
    """Every job at once, one thread each: ``{"busbw": {key: GB/s}, "errors": [...]}`` (key: the job's
    ``key``, default its rail)."""
    out: dict[str, float] = {}
    errors: list[str] = []
    threads = [threading.Thread(target=_run, args=(j, out, errors)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"busbw": out, "errors": errors}


def main() -> None:
    import torch  # noqa: F401  (imported once, before the first round's clock starts)

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(json.dumps(run_round(json.loads(line)["jobs"])), flush=True)


if __name__ == "__main__":
    main()
