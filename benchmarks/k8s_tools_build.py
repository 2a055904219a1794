"""Build time of the simulated-cluster tools, `sim up` time and memory of every process.

    python benchmarks/k8s_tools_build.py                 # warm build (no-op) + sim up with 4 nodes
    python benchmarks/k8s_tools_build.py --cold          # + a cold build in empty Go caches (~10 min, ~8 GB disk)
    python benchmarks/k8s_tools_build.py --nodes 1000    # sim up with 1000 fake nodes (8,000 GPUs)

Prints one line per measurement and a JSON summary (append it to benchmarks/results/
with the machine it ran on). Peak memory is each process's VmHWM from /proc.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from aiinfra import sim
from aiinfra.sim.processes import rss_kib

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "tests" / "k8s" / "build.sh"


def timed_build(env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(["bash", str(BUILD)], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def cold_build() -> dict[str, float]:
    """Build everything with empty module and build caches into a scratch folder."""
    scratch = Path(tempfile.mkdtemp(prefix="k8s-cold-"))
    try:
        env = {
            **os.environ,
            "GOMODCACHE": str(scratch / "mod"),
            "GOCACHE": str(scratch / "cache"),
            "AIINFRA_K8S_TOOLS": str(scratch / "bin"),
        }
        cold = timed_build(env)
        warm = timed_build(env)
        size = sum(f.stat().st_size for f in scratch.rglob("*") if f.is_file() and not f.is_symlink())
        return {"cold_build_s": round(cold, 1), "warm_build_s": round(warm, 2), "go_caches_gib": round(size / 2**30, 2)}
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(scratch)], check=False)  # the module cache is read-only
        shutil.rmtree(scratch, ignore_errors=True)


def sim_up(nodes: int, cluster: str) -> dict[str, object]:
    state = Path(tempfile.mkdtemp(prefix="sim-bench-"))
    try:
        t0 = time.perf_counter()
        c = sim.up(ROOT / cluster, nodes=nodes, state_dir=state, timeout=900)
        total = time.perf_counter() - t0
        time.sleep(15)  # let kwok's heartbeats and the controllers settle before reading memory
        st = sim.status(state)
        peak = {name: round(rss_kib(p.pid) / 1024, 1) for name, p in c.processes.items()}
        return {
            "nodes": nodes,
            "nodes_ready": st.nodes_ready,
            "sim_up_s": round(total, 2),
            "timings_s": c.timings,
            "peak_rss_mib": peak,
            "peak_rss_total_mib": round(sum(peak.values()), 1),
        }
    finally:
        sim.down(state)
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cold", action="store_true", help="also time a build in empty Go caches")
    ap.add_argument("--nodes", type=int, nargs="*", default=[4], help="node counts for sim up (default 4)")
    ap.add_argument("--cluster", default="clusters/a800-ib.yaml")
    args = ap.parse_args()
    out: dict[str, object] = {"machine": f"{platform.node()} {os.cpu_count()} cpus", "go": _go_version()}
    out["warm_noop_build_s"] = round(timed_build(dict(os.environ)), 2)
    print(f"warm (no-op) build: {out['warm_noop_build_s']}s", flush=True)
    if args.cold:
        out.update(cold_build())
        print(f"cold build: {out['cold_build_s']}s, then warm {out['warm_build_s']}s", flush=True)
    runs = []
    for n in args.nodes:
        r = sim_up(n, args.cluster)
        runs.append(r)
        print(f"sim up --nodes {n}: {r['sim_up_s']}s, peak RSS {r['peak_rss_mib']} MiB", flush=True)
    out["sim_up"] = runs
    print(json.dumps(out, indent=2))


def _go_version() -> str:
    try:
        return subprocess.run(["go", "version"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "go not on PATH"


if __name__ == "__main__":
    main()
