"""The monitoring chain on fixture trees: node_exporter and the aiinfra exporter per node, a real Prometheus
with the shipped rules, and faults put into separate nodes' trees at once.

Every node starts as a healthy ``hgx-4hdr-bond`` tree (tests/fixtures/make_exporter_trees.py) with
a healthy A800 NVML recording, scraped by its own node_exporter (the rendered collector flags)
and its own ``python -m aiinfra exporter`` process, as job ``node-exporter`` / ``aiinfra-exporter``
with target label ``node=<name>``. :meth:`FaultStack.inject` then, in one step: copies a single-fault
tree's changed files over each sysfs-fault node's live tree, restarts each GPU-fault node's exporter on
the same port with a recording that carries the fault (an XID cannot reach a running replay from
outside), and writes the network test's report with a socket fallback and a slow rail into the
first node's textfile directory, served by that node's node_exporter as in the rendered values
(scraped with the rendered metric relabelings, which keep the report's ``node`` label). :meth:`FaultStack.wait_firing`
records, per expected (alert, node), the seconds from injection to the alert being firing in
Prometheus' alerts API. Intervals and ``for`` values are the shipped ones (:class:`Thresholds`).

Used by tests/test_monitor_e2e.py and benchmarks/alert_latency.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from aiinfra.definition import load_definition
from aiinfra.monitor.exporter_deploy import node_exporter_values
from aiinfra.monitor.rules import Thresholds, alert_rules
from aiinfra.monitor.rules.render import rules_file
from aiinfra.monitor.stack import MonitorOptions, stack_values
from aiinfra.net.fabric.localise import LocaliseConfig, localise
from aiinfra.net.fabric.report import FabricReport
from aiinfra.net.fabric.simulate import FLOOR, Fabric

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from make_exporter_trees import build, build_fault, inject  # noqa: E402
from make_gpu_health import health  # noqa: E402

CLUSTER = ROOT / "clusters" / "a800-ib.yaml"
HEALTHY = "healthy"
TREE_FAULTS = {
    "port-down": {"IbPortDown"},
    "width-down": {"IbRateDegraded"},
    "bond-aggregator": {"BondMemberWrongAggregator"},
    "bond-member-down": {"BondMemberDown"},
}
GPU_FAULTS = {"xid": {"GpuXidFatal"}, "row-remap": {"GpuRowRemapPending"}}
FABRIC_NODES = [f"fabric-{i}" for i in range(4)]
EXPECTED = {**TREE_FAULTS, **GPU_FAULTS}
"""node -> alerts its fault must fire (the fabric-test alerts' nodes come from the report: :attr:`fabric_expected`)."""
NO_DCGM = {
    "DcgmExporterMissing": "dcgm-exporter needs a GPU and its driver; none runs here, and the alert says so per node",
    "GpuMissing": "counts DCGM_FI_DEV_GPU_TEMP per node, which only dcgm-exporter provides (0 < 8 GPUs here)",
}
"""Alerts that fire on every node here, healthy ones included, because dcgm-exporter cannot run."""


def scrape_config_relabelings(relabelings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """prometheus-operator relabelings (camelCase) as Prometheus writes them into its scrape config."""
    snake = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
    return [{snake.get(k, k): v for k, v in r.items()} for r in relabelings]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gpu_recording(fault: str | None) -> dict[str, Any]:
    """The A800 recording, healthy or with one GPU fault: XID 79 on GPU 3, or a pending row remap on GPU 2."""
    rec = health("a800-8gpu.json", hopper=False, faults=False)
    if fault == "xid":
        rec["xid_events"] = [{"gpu": 3, "xid": 79}]
    if fault == "row-remap":
        rec["gpus"][2]["remapped_rows"] = [0, 1, 1, 0]  # correctable, uncorrectable, pending, failed
    return rec


def fabric_report(faulty: bool) -> FabricReport:
    """The network test over the fabric nodes: all fine, or one slow rail and NCCL on sockets on fabric-0."""
    d = load_definition(CLUSTER)
    fabric = Fabric.scenario("slow_rail" if faulty else "none", len(FABRIC_NODES), len(d.rails), seed=2,
                             node_names=FABRIC_NODES, rail_names=[r.name for r in d.rails])  # fmt: skip
    loc = localise(fabric.nodes, fabric.rails, fabric.measure, LocaliseConfig(FLOOR * fabric.line, seed=2))
    report = FabricReport.from_localisation(loc, fabric.line)
    report.socket_fallback = [FABRIC_NODES[0]] if faulty else []
    return report


class FaultStack:
    """Start with :meth:`start`, stop with :meth:`stop` (also on failure); see the module docstring."""

    def __init__(self, workdir: Path, tools: dict[str, str]) -> None:
        self.dir, self.tools = workdir, tools
        self.nodes = [HEALTHY, *TREE_FAULTS, *GPU_FAULTS]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self.injected_at = 0.0
        self.fabric_expected: dict[str, set[str]] = {}

    # -- processes

    def _spawn(self, key: str, argv: list[str]) -> None:
        log = open(self.dir / f"{key}.log", "wb")  # noqa: SIM115 (kept open while the process runs)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.procs[key] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)

    def _node_exporter(self, key: str, *flags: str) -> None:
        self.ports[key] = free_port()
        self._spawn(key, [self.tools["node_exporter"], f"--web.listen-address=127.0.0.1:{self.ports[key]}",
                          "--collector.disable-defaults", *flags])  # fmt: skip

    def _exporter(self, node: str, fault: str | None) -> None:
        key = f"aiinfra-{node}"
        recording = self.dir / f"nvml-{node}-{fault or 'healthy'}.json"
        recording.write_text(json.dumps(gpu_recording(fault)))
        root = self.dir / "live" / node / "hgx-4hdr-bond"
        self.ports.setdefault(key, free_port())
        self._spawn(key, [sys.executable, "-m", "aiinfra", "exporter", "--listen", f"127.0.0.1:{self.ports[key]}",
                          "--cluster", str(CLUSTER), "--path.sysfs", str(root / "sys"),
                          "--path.procfs", str(root / "proc"), "--nvml-recording", str(recording)])  # fmt: skip

    def start(self) -> None:
        """Build the trees, start every exporter and Prometheus, and wait until every target is up."""
        (self.dir / "textfile").mkdir()
        self._write_fabric(faulty=False)
        # The rendered collector flags (infiniband limited to the rails' HCAs, bonding, pcidevice); the
        # textfile and filesystem flags name host paths of a real node.
        rendered = node_exporter_values(load_definition(CLUSTER))["extraArgs"]
        collectors = [a for a in rendered if not a.startswith(("--collector.textfile", "--collector.filesystem"))]
        for i, node in enumerate(self.nodes):
            root = build("hgx-4hdr-bond", self.dir / "live" / node)
            # Only the first node has the report, as on a cluster: written where the test ran.
            report = [f"--collector.textfile.directory={self.dir / 'textfile'}", "--collector.textfile"]
            textfile = report if i == 0 else []
            self._node_exporter(f"node-{node}", f"--path.sysfs={root / 'sys'}", f"--path.procfs={root / 'proc'}",
                                *collectors, *textfile)  # fmt: skip
            self._exporter(node, None)
        for fault in TREE_FAULTS:
            build_fault(fault, self.dir / "faulty")
        self._prometheus()
        self._wait_up(2 * len(self.nodes))

    def _prometheus(self) -> None:
        t = Thresholds()
        (self.dir / "rules.yaml").write_text(rules_file(alert_rules(load_definition(CLUSTER)), t))

        def job(name: str, prefix: str) -> dict[str, Any]:
            targets = [{"targets": [f"127.0.0.1:{self.ports[prefix + n]}"], "labels": {"node": n}} for n in self.nodes]
            return {"job_name": name, "static_configs": targets}

        node_exporter = {**job("node-exporter", "node-"), "metric_relabel_configs": scrape_config_relabelings(
            stack_values(MonitorOptions())["prometheus-node-exporter"]["prometheus"]["monitor"]["metricRelabelings"])}
        config = {
            "global": {"scrape_interval": t.scrape_interval, "evaluation_interval": t.evaluation_interval},
            "rule_files": [str(self.dir / "rules.yaml")],
            "scrape_configs": [node_exporter, job("aiinfra-exporter", "aiinfra-")],
        }  # fmt: skip
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.ports["prometheus"] = free_port()
        self._spawn("prometheus", [self.tools["prometheus"], f"--config.file={self.dir / 'prometheus.yml'}",
                                   f"--storage.tsdb.path={self.dir / 'data'}",
                                   f"--web.listen-address=127.0.0.1:{self.ports['prometheus']}"])  # fmt: skip

    def _wait_up(self, targets: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if len(self.query("up == 1")) == targets:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        down = {p: proc.poll() for p, proc in self.procs.items() if proc.poll() is not None}
        raise RuntimeError(f"targets not all up within {timeout:.0f} s; exited: {down}; logs in {self.dir}")

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    # -- faults

    def _write_fabric(self, faulty: bool) -> None:
        report = fabric_report(faulty)
        tmp = self.dir / "textfile" / ".fabric.prom.new"
        tmp.write_text(report.metrics())
        os.replace(tmp, self.dir / "textfile" / "fabric.prom")
        if faulty:
            slow = {f.node for f in report.localisation.faults} if report.localisation else set()
            self.fabric_expected = {n: {"FabricTestRailBelowTarget"} for n in slow}
            for n in report.socket_fallback:
                self.fabric_expected.setdefault(n, set()).add("FabricTestNcclOnSockets")

    def inject(self) -> None:
        """Put every fault in at once: tree files, GPU exporters restarted with their fault, the fabric report."""
        self.injected_at = time.monotonic()
        for fault in TREE_FAULTS:
            inject(self.dir / "faulty" / fault, self.dir / "live" / fault / "hgx-4hdr-bond")
        for fault in GPU_FAULTS:
            proc = self.procs[f"aiinfra-{fault}"]
            proc.terminate()
            proc.wait(timeout=20)
            self._exporter(fault, fault)
        self._write_fabric(faulty=True)

    def expected(self) -> dict[str, set[str]]:
        return {**EXPECTED, **self.fabric_expected}

    def wait_firing(self, timeout: float = 150) -> dict[tuple[str, str], float]:
        """Seconds from :meth:`inject` to each expected (alert, node) firing (polled every 0.5 s)."""
        want = {(a, n) for n, alerts in self.expected().items() for a in alerts}
        seen: dict[tuple[str, str], float] = {}
        while want - set(seen) and time.monotonic() - self.injected_at < timeout:
            for key in self.alerts("firing") & want:
                seen.setdefault(key, time.monotonic() - self.injected_at)
            time.sleep(0.5)
        return seen

    # -- Prometheus API

    def get(self, path: str, **params: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.ports['prometheus']}{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=30) as r:
            return dict(json.load(r))

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/query", query=expr)["data"]["result"])

    def alerts(self, *states: str) -> set[tuple[str, str]]:
        """(alertname, node) of the alerts in ``states`` (firing, pending)."""
        found = self.get("/api/v1/alerts")["data"]["alerts"]
        return {(a["labels"]["alertname"], a["labels"].get("node", "")) for a in found if a["state"] in states}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['prometheus']}"
