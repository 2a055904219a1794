"""The aiinfra exporter against node_exporter's infiniband+bonding collectors, on the same tree.

    python benchmarks/exporter_vs_node_exporter.py [--scrapes 300]

Builds the 8-GPU 8-NDR-rail fixture tree (tests/fixtures/make_exporter_trees.py, hgx-8ndr, bond0),
starts node_exporter (monitor tools dir, `make monitor-tools`) with
``--collector.disable-defaults --collector.infiniband --collector.bonding`` and the aiinfra
exporter twice (network collectors only: the same subjects; and every collector, with an 8x
H100 NVML replay) on it, then scrapes each over HTTP in turn. Every scrape collects and
renders afresh (no cache between scrapes), except the conformance gauges, which re-run the node
checks at most every 60 s. Reports scrape latency median and p99, CPU time per scrape
(utime+stime of the exporter process) and RSS after the run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from make_exporter_trees import build  # noqa: E402
from make_gpu_health import health  # noqa: E402

TOOLS = Path(os.environ.get("AIINFRA_MONITOR_TOOLS", ROOT / ".cache" / "monitor-tools" / "bin"))
NETWORK = ("infiniband", "infiniband_hw_counters", "bonding")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return bytes(r.read())


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            get(url)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def commands(root: Path, recording: Path) -> dict[str, tuple[list[str], int]]:
    out = {}
    port = free_port()
    out["node_exporter (infiniband+bonding)"] = (
        [str(TOOLS / "node_exporter"), f"--web.listen-address=127.0.0.1:{port}", f"--path.sysfs={root / 'sys'}",
         f"--path.procfs={root / 'proc'}", "--collector.disable-defaults", "--collector.infiniband",
         "--collector.bonding"],
        port,
    )  # fmt: skip
    from aiinfra.monitor.exporter.exporter import available

    base = [sys.executable, "-m", "aiinfra.cli.exporter",
            f"--path.sysfs={root / 'sys'}", f"--path.procfs={root / 'proc'}",
            "--cluster", str(ROOT / "clusters" / "h100-ndr.yaml"), "--nvml-recording", str(recording)]  # fmt: skip
    port = free_port()
    off = [f"--no-collector.{n}" for n in sorted(available()) if n not in NETWORK]
    out["aiinfra (network collectors)"] = ([*base, f"--listen=127.0.0.1:{port}", *off], port)
    port = free_port()
    out["aiinfra (all collectors, 8 GPUs)"] = ([*base, f"--listen=127.0.0.1:{port}"], port)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--scrapes", type=int, default=300)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-exporter-"))
    root = build("hgx-8ndr", tmp)
    recording = tmp / "h100-health.json"
    recording.write_text(json.dumps(health("h100-8gpu.json", hopper=True, faults=False)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {name: (subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), port)
             for name, (cmd, port) in commands(root, recording).items()}  # fmt: skip
    try:
        for _, port in procs.values():
            wait_up(f"http://127.0.0.1:{port}/metrics")
        lat: dict[str, list[float]] = {n: [] for n in procs}
        cpu0 = {n: cpu_seconds(p.pid) for n, (p, _) in procs.items()}
        size = {}
        for _ in range(args.scrapes):
            for name, (_, port) in procs.items():  # interleaved: machine load hits all alike
                t0 = time.perf_counter()
                body = get(f"http://127.0.0.1:{port}/metrics")
                lat[name].append(time.perf_counter() - t0)
                size[name] = body.count(b"\n") - body.count(b"\n#")
        print(f"# {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
              f"load {os.getloadavg()[0]:.1f}; {args.scrapes} scrapes each; tree hgx-8ndr")  # fmt: skip
        print(f"{'exporter':36} {'series':>7} {'median ms':>10} {'p99 ms':>8} {'CPU ms/scrape':>14} {'RSS MiB':>8}")
        for name, (p, _) in procs.items():
            xs = sorted(lat[name])
            p99 = xs[min(len(xs) - 1, int(0.99 * len(xs)))]
            cpu = (cpu_seconds(p.pid) - cpu0[name]) / args.scrapes
            print(f"{name:36} {size[name]:7d} {statistics.median(xs) * 1e3:10.2f} {p99 * 1e3:8.2f} "
                  f"{cpu * 1e3:14.2f} {rss_mib(p.pid):8.1f}")  # fmt: skip
    finally:
        for p, _ in procs.values():
            p.terminate()
            p.wait(10)


if __name__ == "__main__":
    main()
