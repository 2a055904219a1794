"""Time to a ready cluster and to a job's first log line, beside plain Ray; re-attach; `ray job submit`.

    python benchmarks/launch_latency.py                     # everything below, in one run (needs root for sim)
    python benchmarks/launch_latency.py --only local plain  # a subset: local, plain, submit-cli, sim

- local: ``aiinfra.launch()`` on the local default -> ready, and -> first log line of a trivial job;
  then the re-attach (the same launch() again: in this process, and in a new one, as a restarted
  notebook kernel does), and the driver's RSS.
- plain: plain Ray as a baseline, ``ray start --head`` + ``JobSubmissionClient``, -> first log line.
- submit-cli: the documented ``ray job submit --working-dir . -- python ...`` from the repository
  root against a local cluster -> first log line, and the size Ray's packer makes of the root.
- sim: the same on the simulator with 2 process-backed workers (no KWOK nodes), the re-attach,
  and the node agent's memory (RSS), per pod (benchmarks/sim_process_nodes.py measures the same
  with a training job).

Numbers go into issue notes with the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

import aiinfra
from aiinfra.local_ports import free_port

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / "clusters" / "local.yaml"
A800 = ROOT / "clusters" / "a800-ib.yaml"
PRINT = "python -c \"print('first line', flush=True)\""


def first_line(job) -> float:
    t0 = time.perf_counter()
    for line in job.logs(follow=True):
        if "first line" in line:
            return time.perf_counter() - t0
    raise RuntimeError(f"the job printed nothing: {job.status()} {job.message()}")


def reattach_times(definition: Path, name: str, workers: int) -> tuple[float, float]:
    """Seconds of launch() re-attaching: in this process, and in a new process (launch() call only)."""
    t0 = time.perf_counter()
    again = aiinfra.launch(definition, workers=workers, name=name, progress=None)
    here = time.perf_counter() - t0
    assert again.reattached
    code = (
        "import time, aiinfra; t = time.perf_counter(); "
        f"c = aiinfra.launch({str(definition)!r}, workers={workers}, name={name!r}, progress=None); "
        "print(c.reattached, time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    flag, seconds = out.stdout.split()
    assert flag == "True", out.stderr[-2000:]
    return here, float(seconds)


def bench_local(workers: int) -> None:
    t0 = time.perf_counter()
    cluster = aiinfra.launch(LOCAL, workers=workers, name="bench-latency", progress=None)
    ready = time.perf_counter() - t0
    try:
        job = cluster.submit(PRINT)
        first = time.perf_counter() - t0 - ready + first_line(job)
        job.wait()
        here, fresh = reattach_times(LOCAL, "bench-latency", workers)
    finally:
        cluster.down()
    rss = psutil.Process().memory_info().rss / 2**20
    print(f"local ({workers} workers): launch->ready {ready:.1f}s, launch->first log line {ready + first:.1f}s; "
          f"re-attach {here:.2f}s in-process, {fresh:.2f}s from a new process; driver RSS {rss:.0f} MiB")


def bench_plain() -> None:
    """`ray start --head` + JobSubmissionClient: Ray without aiinfra (one node, on loopback)."""
    from ray.job_submission import JobSubmissionClient

    from aiinfra.launch.cluster import Job

    temp = Path(tempfile.mkdtemp(prefix="plain-", dir="/tmp"))
    dash = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    t0 = time.perf_counter()
    try:
        subprocess.run(
            [shutil.which("ray") or "ray", "start", "--head", f"--port={free_port()}", f"--dashboard-port={dash}",
             "--node-ip-address=127.0.0.1", "--dashboard-host=127.0.0.1", f"--temp-dir={temp}",
             f"--dashboard-agent-listen-port={free_port()}", "--disable-usage-stats"],
            check=True, capture_output=True, env=env, timeout=300,
        )
        client = JobSubmissionClient(f"http://127.0.0.1:{dash}")
        job = Job(client, client.submit_job(entrypoint=PRINT))
        first = time.perf_counter() - t0
        first += first_line(job)
        print(f"plain Ray (ray start --head + JobSubmissionClient): start->first log line {first:.1f}s")
    finally:
        stop_processes_under(temp)


def bench_submit_cli() -> None:
    """The documented path: `ray job submit --working-dir .` from the repository root."""
    from ray._private.runtime_env.packaging import _zip_files

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        _zip_files(str(ROOT), [], f"{tmp}/root.zip")
        size = Path(f"{tmp}/root.zip").stat().st_size / 2**20
        print(f"Ray's packer on the repository root: {size:.1f} MiB in {time.perf_counter() - t0:.2f}s")
    cluster = aiinfra.launch(LOCAL, workers=1, name="bench-cli", progress=None)
    try:
        env = {**os.environ, **cluster.backend.ray_auth_env()}  # type: ignore[attr-defined]
        cmd = [shutil.which("ray") or "ray", "job", "submit", "--address", cluster.dashboard_url,
               "--working-dir", ".", "--", "python", "-c", "print('first line', flush=True)"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        first = None
        for line in proc.stdout or []:
            if first is None and line.startswith("first line"):
                first = time.perf_counter() - t0
        proc.wait(timeout=300)
        assert first is not None and proc.returncode == 0, f"ray job submit failed (rc {proc.returncode})"
        print(f"ray job submit --working-dir . (repository root) -> first log line {first:.1f}s")
    finally:
        cluster.down()


def bench_sim() -> None:
    from sim_process_nodes import agent_cost  # beside this script

    from aiinfra import sim

    state = Path(tempfile.mkdtemp(prefix="bench-latency-sim-"))
    t0 = time.perf_counter()
    c = sim.up(A800, nodes=0, process_nodes=2, nodes_per_leaf=1, state_dir=state)
    print(f"sim up (2 process-backed nodes): {time.perf_counter() - t0:.1f}s")
    os.environ["KUBECONFIG"] = str(c.kubeconfig)
    try:
        t0 = time.perf_counter()
        cluster = aiinfra.launch(A800, workers=2, name="bench-latency", timeout=1500, progress=None)
        ready = time.perf_counter() - t0
        try:
            agent, pods = agent_cost(state)
            job = cluster.submit(PRINT)
            first = time.perf_counter() - t0 - ready + first_line(job)
            job.wait()
            here, fresh = reattach_times(A800, "bench-latency", 2)
        finally:
            cluster.down()
        per_pod = sum(pods) / max(1, len(pods))
        print(f"sim (2 process-backed workers): launch->ready {ready:.1f}s, launch->first log line "
              f"{ready + first:.1f}s; re-attach {here:.2f}s in-process, {fresh:.2f}s from a new process; "
              f"node agent RSS {agent:.0f} MiB, per pod (sandbox + unshare) {per_pod:.1f} MiB x {len(pods)} pods")
    finally:
        sim.down(state)


def stop_processes_under(temp: Path) -> None:
    """Stop the plain Ray started with ``--temp-dir=temp`` (and nothing else: `ray stop` would stop every Ray here)."""
    procs = [p for p in psutil.process_iter(["cmdline"]) if str(temp) in " ".join(p.info["cmdline"] or [])]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=10)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    shutil.rmtree(temp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2, help="local default's workers")
    parser.add_argument("--only", nargs="+", choices=["local", "plain", "submit-cli", "sim"],
                        default=["plain", "local", "submit-cli", "sim"])
    args = parser.parse_args()
    print(f"machine: {platform.node()} {psutil.cpu_count()} CPUs {psutil.virtual_memory().total / 2**30:.0f} GiB, "
          f"load {os.getloadavg()[0]:.1f}")
    steps = {"plain": bench_plain, "local": lambda: bench_local(args.workers), "submit-cli": bench_submit_cli,
             "sim": bench_sim}
    for step in args.only:
        steps[step]()
    print(f"driver peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB, "
          f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
