"""launch() to ready on the simulated cluster, and what every process costs.

    python benchmarks/k8s_launch.py --nodes 64 --workers 2 64
    python benchmarks/k8s_launch.py --nodes 1000 --workers 128

Brings up (or reuses) the simulated control plane with N fake GPU nodes from
clusters/a800-ib.yaml, then for each worker count launches a RayCluster with
the real KubeRay operator and scheduler, times launch() until ready, and tears
it down. Prints the peak RSS (VmHWM) of every simulator process and of this
driver. Numbers go into issue notes together with the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from pathlib import Path

import aiinfra
from aiinfra import sim

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cluster", default=str(ROOT / "clusters" / "a800-ib.yaml"))
    parser.add_argument("--nodes", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 64])
    parser.add_argument("--keep", action="store_true", help="leave the simulator running")
    args = parser.parse_args()
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs")

    t0 = time.perf_counter()
    cluster = sim.up(args.cluster, nodes=args.nodes, timeout=1800)
    print(f"sim up --nodes {args.nodes}: {time.perf_counter() - t0:.1f}s  (timings: {cluster.timings})")
    os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
    for workers in args.workers:
        name = f"bench-{workers}"
        t0 = time.perf_counter()
        handle = aiinfra.launch(args.cluster, workers=workers, name=name, timeout=1800)
        ready = time.perf_counter() - t0
        status = handle.status()
        assert status.ready and status.workers_joined == workers, status
        t0 = time.perf_counter()
        handle.down()
        print(
            f"launch {workers:4d} workers -> ready {ready:6.1f}s ({status.workers_joined} worker pods running)"
            f"   down {time.perf_counter() - t0:6.1f}s"
        )
    print("peak RSS per process (MiB):")
    for proc_name, proc in cluster.processes.items():
        print(f"  {proc_name:26} {peak_rss_mib(proc.pid):8.0f}")
    print(f"  {'driver (this process)':26} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.0f}")
    if not args.keep:
        sim.down()


if __name__ == "__main__":
    main()
