"""Fault -> firing alert time with the shipped scrape interval, evaluation interval and `for` values.

A real Prometheus (``$AIINFRA_MONITOR_TOOLS/prometheus`` or ``prometheus`` on PATH) loads the
rendered rules and scrapes a local exposition endpoint every 5 s. After a healthy minute, three
faults are injected at once (InfiniBand port down, fatal XID 79, management bond down); the script
polls Prometheus' alerts API and prints the seconds from injection to each alert firing.

    python benchmarks/alert_latency.py
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

from aiinfra.definition import load_definition
from aiinfra.monitor.rules import Thresholds, alert_rules
from aiinfra.monitor.rules.render import rules_file

ROOT = Path(__file__).resolve().parent.parent
WATCHED = ("IbPortDown", "GpuXidFatal", "BondDown")


def _exposition(faulty: bool) -> str:
    d = load_definition(ROOT / "clusters" / "a800-ib.yaml")
    lines = []
    for i, rail in enumerate(d.rails):
        down = faulty and i == 0
        labels = f'device="{rail.hca}",port="{rail.port}"'
        lines += [
            f"node_infiniband_state_id{{{labels}}} {1 if down else 4}",
            f"node_infiniband_physical_state_id{{{labels}}} {3 if down else 5}",
            f"node_infiniband_rate_bytes_per_second{{{labels}}} {rail.rate_gbps * 1e9 / 8:.0f}",
        ]
    lines += ['node_bonding_slaves{master="bond0"} 2', f'node_bonding_active{{master="bond0"}} {0 if faulty else 2}']
    if faulty:
        lines.append('aiinfra_gpu_xid_errors_total{gpu="3",xid="79"} 1')
    return "\n".join(lines) + "\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prometheus() -> str:
    tools = os.environ.get("AIINFRA_MONITOR_TOOLS")
    if tools and (Path(tools) / "prometheus").is_file():
        return str(Path(tools) / "prometheus")
    found = shutil.which("prometheus")
    if not found:
        sys.exit("prometheus not found in $AIINFRA_MONITOR_TOOLS or PATH")
    return found


def main() -> None:
    t = Thresholds()
    state = {"text": _exposition(False)}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = state["text"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    exporter = http.server.ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
    threading.Thread(target=exporter.serve_forever, daemon=True).start()
    web = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(rules_file(alert_rules(load_definition(ROOT / "clusters" / "a800-ib.yaml")), t))
        config = {
            "global": {"scrape_interval": t.scrape_interval, "evaluation_interval": t.evaluation_interval},
            "rule_files": [str(rules)],
            "scrape_configs": [
                {
                    "job_name": "node-exporter",
                    "static_configs": [
                        {"targets": [f"127.0.0.1:{exporter.server_address[1]}"], "labels": {"node": "gpu-1"}}
                    ],
                }
            ],
        }
        (Path(tmp) / "prometheus.yml").write_text(yaml.safe_dump(config))
        proc = subprocess.Popen(
            [
                _prometheus(),
                f"--config.file={tmp}/prometheus.yml",
                f"--storage.tsdb.path={tmp}/data",
                f"--web.listen-address=127.0.0.1:{web}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(30)  # healthy samples first, so counters have a baseline
            firing_before = _firing(web)
            state["text"] = _exposition(True)
            t0 = time.monotonic()
            seen: dict[str, float] = {}
            while len(seen) < len(WATCHED) and time.monotonic() - t0 < 120:
                for name in _firing(web):
                    if name in WATCHED and name not in seen:
                        seen[name] = time.monotonic() - t0
                time.sleep(0.25)
        finally:
            proc.terminate()
            proc.wait()
            exporter.shutdown()
    print(
        f"scrape {t.scrape_interval}, evaluation {t.evaluation_interval}; firing while healthy: {sorted(firing_before)}"
    )
    for name in WATCHED:
        print(
            f"{name:14s} fault -> firing: {seen[name]:.1f} s" if name in seen else f"{name:14s} did not fire in 120 s"
        )


def _firing(port: int) -> set[str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=5) as r:
            alerts = json.load(r)["data"]["alerts"]
    except OSError:
        return set()
    return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}


if __name__ == "__main__":
    main()
