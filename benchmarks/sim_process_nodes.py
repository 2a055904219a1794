"""launch() -> ready -> first job log line with 2 process-backed workers, beside the local default.

    python benchmarks/sim_process_nodes.py            # both
    python benchmarks/sim_process_nodes.py --only sim

For each backend: seconds from ``launch()`` to ready, from submitting ``examples/train_ddp.py``
to its first log line and to its end, then ``down()``. On the simulator (2 process-backed nodes,
one per leaf, no KWOK nodes) it also prints the node agent's memory and, per pod, the memory of
the pod's sandbox (PID 1 of the pod) and its ``unshare`` parent: the agent's cost per pod, not
counting what the pod itself runs (Ray). Needs root. Numbers go into the issue notes with the
machine and its load (the shared 2-core machine makes every Ray start slow).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import aiinfra
from aiinfra import sim

ROOT = Path(__file__).resolve().parent.parent
JOB = "python examples/train_ddp.py --workers 2 --epochs 2"


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def agent_cost(state: Path) -> tuple[float, list[float]]:
    """RSS of the node agent, and per pod of its sandbox plus the sandbox's unshare parent."""
    agent = sim.status(state).cluster.processes["node-agent"].pid  # type: ignore[union-attr]
    per_pod = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(cmd) > 2 and cmd[-3].endswith(b"sandbox.py") and str(state).encode() in cmd[-2]:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            per_pod.append(rss_mib(int(entry.name)) + rss_mib(ppid))
    return rss_mib(agent), per_pod


def run(definition: str, name: str, state: Path | None) -> dict[str, float]:
    t0 = time.monotonic()
    cluster = aiinfra.launch(definition, workers=2, name=name, timeout=1200, progress=None)
    out = {"ready_s": time.monotonic() - t0}
    if state is not None:
        agent, pods = agent_cost(state)
        out["agent_mib"] = agent
        out["per_pod_mib"] = sum(pods) / max(1, len(pods))
    t1 = time.monotonic()
    job = cluster.submit(JOB, working_dir=str(ROOT))
    for _ in job.logs(follow=True):
        out.setdefault("first_log_line_s", time.monotonic() - t1)
    out["job_s"] = time.monotonic() - t1
    out["job"] = 1.0 if job.wait() == "SUCCEEDED" else 0.0
    cluster.down()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["sim", "local"], default=None)
    args = parser.parse_args()
    print(f"machine: {platform.node()} {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}")
    if args.only in (None, "local"):
        print("local default:", run(str(ROOT / "clusters" / "local.yaml"), "bench-local", None))
    if args.only in (None, "sim"):
        state = Path(tempfile.mkdtemp(prefix="bench-procsim-"))
        t0 = time.monotonic()
        c = sim.up(ROOT / "clusters" / "a800-ib.yaml", nodes=0, process_nodes=2, nodes_per_leaf=1, state_dir=state)
        print(f"sim up: {time.monotonic() - t0:.1f}s")
        os.environ["KUBECONFIG"] = str(c.kubeconfig)
        try:
            print("process-backed sim:", run(str(ROOT / "clusters" / "a800-ib.yaml"), "bench-proc", state))
        finally:
            sim.down(state)


if __name__ == "__main__":
    main()
