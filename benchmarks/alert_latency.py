"""Fault -> firing alert time through the real chain, with the shipped scrape interval, evaluation interval and `for`.

The end-to-end test's stack (tests/monitor/fault_stack.py): seven hgx-4hdr-bond fixture trees, each
scraped through its own node_exporter (infiniband, bonding) and ``python -m aiinfra exporter`` with a
replayed NVML recording, a real Prometheus (``$AIINFRA_MONITOR_TOOLS/prometheus`` or PATH) with the
rendered rules, and the network test's report in a textfile directory. After a healthy 20 s, six faults
go into six trees at once (port down, width 4X -> 2X, bond member in another aggregator, bond member
down, fatal XID 79, pending row remap) and the report gets a slow rail and NCCL on sockets; the script
polls Prometheus' alerts API and prints the seconds from injection to each alert firing on its node.

    python benchmarks/alert_latency.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from monitor.fault_stack import NO_DCGM, FaultStack  # noqa: E402


def _tool(name: str) -> str:
    tools = os.environ.get("AIINFRA_MONITOR_TOOLS")
    if tools and (Path(tools) / name).is_file():
        return str(Path(tools) / name)
    found = shutil.which(name)
    if not found:
        sys.exit(f"{name} not found in $AIINFRA_MONITOR_TOOLS or PATH (make monitor-tools)")
    return found


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = FaultStack(Path(tmp), {n: _tool(n) for n in ("prometheus", "node_exporter")})
        try:
            stack.start()
            time.sleep(20)
            before = sorted({a for a, _ in stack.alerts("firing", "pending")} - set(NO_DCGM))
            stack.inject()
            fired = stack.wait_firing()
        finally:
            stack.stop()
    print(f"scrape 5s, evaluation 5s (fabric-test group 30s), shipped `for`; alerts before the faults: {before}")
    for node, alerts in sorted(stack.expected().items()):
        for alert in sorted(alerts):
            secs = fired.get((alert, node))
            took = f"{secs:.1f} s" if secs is not None else "did not fire in 150 s"
            print(f"{alert:26s} {node:17s} fault -> firing: {took}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
