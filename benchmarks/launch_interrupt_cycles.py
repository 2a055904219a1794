"""Interrupted launches leave nothing behind: launch/down cycles on the simulated cluster.

    python benchmarks/launch_interrupt_cycles.py --cycles 50 --seed 1

Each cycle starts `aiinfra launch` as its own process and, at a random point
(while Python starts, right after the RayCluster appears, or while waiting for
the workers), either interrupts it (SIGINT: KeyboardInterrupt) or kills it
(SIGKILL), then runs `aiinfra down NAME`. At the end it prints how many
RayClusters, pods, Secrets, ConfigMaps, NetworkPolicies and port-forward
processes are left: all must be 0. Uses the cluster of $KUBECONFIG when set
(e.g. the test session's), else brings up the simulator and stops it after.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
A800 = ROOT / "clusters" / "a800-ib.yaml"
POINTS = ("startup", "created", "waiting")


@dataclass
class Cycle:
    name: str
    point: str
    signal: str
    delay_s: float
    launch_rc: int | None = None
    down_rc: int = 0


@dataclass
class Report:
    cycles: list[Cycle] = field(default_factory=list)
    left: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not any(self.left.values())


def leftovers(kube, namespace: str, prefix: str) -> dict[str, int]:
    """What the cycles left in ``namespace``: objects of clusters named ``prefix``*, and port-forwards."""

    def mine(items: list) -> int:
        return sum(1 for o in items if o["metadata"]["name"].startswith(prefix))

    def listed(api: str, kind: str) -> list:
        return kube.resource(api, kind).get(namespace=namespace).to_dict()["items"]

    forwards = [
        p for p in psutil.process_iter(["cmdline"])
        if "port-forward" in " ".join(p.info["cmdline"] or []) and p.pid != os.getpid()
    ]
    launchers = [
        p for p in psutil.process_iter(["cmdline"])
        if f"--name {prefix}" in " ".join(p.info["cmdline"] or [])
    ]
    return {
        "rayclusters": mine(listed("ray.io/v1", "RayCluster")),
        "pods": mine(listed("v1", "Pod")),
        "secrets": mine(listed("v1", "Secret")),
        "configmaps": mine(listed("v1", "ConfigMap")),
        "networkpolicies": mine(listed("networking.k8s.io/v1", "NetworkPolicy")),
        "port_forward_processes": len(forwards),
        "launch_processes": len(launchers),
    }


def _wait_for_raycluster(kube, name: str, namespace: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if kube.get("ray.io/v1", "RayCluster", name, namespace) is not None:
            return True
        time.sleep(0.05)
    return False


def one_cycle(
    kube, namespace: str, name: str, point: str, sig: str, rng: random.Random, ready_s: float
) -> Cycle:
    """Launch, interrupt (SIGINT) or kill (SIGKILL) at ``point`` after a random delay, then `aiinfra down`."""
    from aiinfra.cli import main

    cycle = Cycle(name, point, sig, 0.0)
    cmd = [sys.executable, "-m", "aiinfra", "launch", str(A800), "--workers", "1", "--name", name,
           "--namespace", namespace, "--timeout", "300"]
    # A shell's background job ignores SIGINT, and Python then installs no KeyboardInterrupt handler:
    # give the launcher the default disposition, as in a terminal.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    if point == "startup":
        cycle.delay_s = rng.uniform(0.0, 3.0)
        time.sleep(cycle.delay_s)
    else:
        _wait_for_raycluster(kube, name, namespace, proc, timeout=120)
        cycle.delay_s = rng.uniform(0.0, 0.3) if point == "created" else rng.uniform(0.3, ready_s)
        time.sleep(cycle.delay_s)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT if sig == "SIGINT" else signal.SIGKILL)
    try:
        cycle.launch_rc = proc.wait(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        cycle.launch_rc = proc.wait()
    # ClusterNotFound (nothing was created yet) is a fine answer here.
    cycle.down_rc = main(["down", name, "--namespace", namespace])
    return cycle


def run_cycles(
    kube, namespace: str, cycles: int, seed: int, ready_s: float = 20.0, plan: list[tuple[str, str]] | None = None,
    budget_s: float | None = None, show: Callable[[Cycle], None] | None = None,
) -> Report:
    """``cycles`` interrupted launch/down cycles in ``namespace`` (points and signals random, or
    ``plan``'s); what they left."""
    rng = random.Random(seed)
    prefix = f"ic{uuid.uuid4().hex[:4]}-"
    report = Report()
    stop = time.monotonic() + (budget_s if budget_s is not None else float("inf"))
    for i in range(cycles):
        if time.monotonic() > stop:
            break
        point, sig = plan[i] if plan else (rng.choice(POINTS), rng.choice(("SIGINT", "SIGKILL")))
        report.cycles.append(one_cycle(kube, namespace, f"{prefix}{i}", point, sig, rng, ready_s))
        if show:
            show(report.cycles[-1])
    report.left = leftovers(kube, namespace, prefix)
    return report


def _show(c: Cycle) -> None:
    print(f"{c.name:14} {c.point:8} {c.signal:8} after {c.delay_s:5.2f}s  launch rc {c.launch_rc}  "
          f"down rc {c.down_rc}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--budget-s", type=float, help="start no new cycle after this many seconds")
    parser.add_argument("--ready-s", type=float, default=20.0, help="upper bound of the 'waiting' interrupt delay")
    args = parser.parse_args()
    from aiinfra import sim
    from aiinfra.k8s.client import Kube

    started = None
    if not os.environ.get("KUBECONFIG"):
        started = sim.up(A800, nodes=4)
        os.environ["KUBECONFIG"] = str(started.kubeconfig)
    try:
        t0 = time.perf_counter()
        report = run_cycles(Kube(), args.namespace, args.cycles, args.seed, args.ready_s, budget_s=args.budget_s,
                            show=_show)
        print(f"{len(report.cycles)} cycles in {time.perf_counter() - t0:.0f}s; left behind:")
        for what, count in report.left.items():
            print(f"  {what:24} {count}")
    finally:
        if started is not None:
            sim.down()
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
