"""Rule evaluation time for many nodes: a real Prometheus evaluates the rendered rules over N simulated nodes.

One local endpoint serves every node's series (labels ``node="gpu-<n>"``, ``honor_labels``): 4 rails
(state, physical state, rate, error counters), 8 GPUs (DCGM and aiinfra series) and a bond per node.
After a minute, the script reads ``prometheus_rule_group_last_duration_seconds`` per group, the
groups' missed iterations, and the slowest rules' own evaluation times from the rules API.
(promtool's test engine refuses this many samples, so a server is used.) Prometheus is
``$AIINFRA_MONITOR_TOOLS/prometheus`` (``make monitor-tools``; default ``.cache/monitor-tools/bin``),
else the one on PATH.

    python benchmarks/rule_eval_scale.py --nodes 1000
"""

from __future__ import annotations

import argparse
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
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from aiinfra.definition import load_definition
from aiinfra.monitor.rules import Thresholds, alert_rules
from aiinfra.monitor.rules.render import rules_file

ROOT = Path(__file__).resolve().parent.parent
# Replaced per scrape: a healthy GPU's energy counter grows, and a frozen one fires DcgmExporterStale
# for every GPU, which would measure 8,000 firing alerts instead of a healthy cluster.
ENERGY = b"@energy@"


def _exposition(nodes: int) -> str:
    d = load_definition(ROOT / "clusters" / "a800-ib.yaml")
    lines = []
    for n in range(nodes):
        node = f'node="gpu-{n}"'
        for r in d.rails:
            p = f'{node},device="{r.hca}",port="{r.port}"'
            lines += [
                f"node_infiniband_state_id{{{p}}} 4",
                f"node_infiniband_physical_state_id{{{p}}} 5",
                f"node_infiniband_rate_bytes_per_second{{{p}}} 25000000000",
                f"node_infiniband_symbol_error_total{{{p}}} 0",
                f"node_infiniband_link_downed_total{{{p}}} 0",
            ]
        for g in range(8):
            gl = f'{node},gpu="{g}"'
            lines += [
                f"DCGM_FI_DEV_GPU_TEMP{{{gl}}} 40",
                f"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{{gl}}} {ENERGY.decode()}",
                f"aiinfra_gpu_row_remap_pending{{{gl}}} 0",
                f'aiinfra_gpu_xid_errors_total{{{gl},xid="13"}} 0',
            ]
        lines += [f'node_bonding_slaves{{{node},master="bond0"}} 2', f'node_bonding_active{{{node},master="bond0"}} 2']
    return "\n".join(lines) + "\n"


def _prometheus() -> str:
    tools = Path(os.environ.get("AIINFRA_MONITOR_TOOLS", ROOT / ".cache" / "monitor-tools" / "bin"))
    if (tools / "prometheus").is_file():
        return str(tools / "prometheus")
    found = shutil.which("prometheus")
    if not found:
        sys.exit("prometheus not found in $AIINFRA_MONITOR_TOOLS or PATH (make monitor-tools)")
    return found


def _get(web: int, path: str, **params: str) -> Any:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"http://127.0.0.1:{web}{path}?{query}", timeout=30) as r:
        data = json.load(r)["data"]
    return data["result"] if path.endswith("/query") else data


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    body = _exposition(args.nodes).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body.replace(ENERGY, str(int(time.time() * 1000)).encode()))

        def log_message(self, *a: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", _port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    t = Thresholds()
    alerts = alert_rules(load_definition(ROOT / "clusters" / "a800-ib.yaml"))
    web = _port()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "rules.yaml").write_text(rules_file(alerts, t))
        target = {"targets": [f"127.0.0.1:{server.server_address[1]}"]}
        config = {
            "global": {"scrape_interval": t.scrape_interval, "evaluation_interval": t.evaluation_interval},
            "rule_files": [f"{tmp}/rules.yaml"],
            "scrape_configs": [
                {"job_name": "node-exporter", "honor_labels": True, "static_configs": [target]},
                {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{web}"]}]},
            ],
        }
        (Path(tmp) / "prometheus.yml").write_text(yaml.safe_dump(config))
        binary = _prometheus()
        version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp}/prometheus.yml",
                f"--storage.tsdb.path={tmp}/data",
                f"--web.listen-address=127.0.0.1:{web}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(args.seconds)
            window = f"[{args.seconds // 2}s]"
            median = _get(
                web,
                "/api/v1/query",
                query=f"quantile_over_time(0.5, prometheus_rule_group_last_duration_seconds{window})",
            )
            missed = _get(
                web, "/api/v1/query", query=f"increase(prometheus_rule_group_iterations_missed_total{window})"
            )
            series = _get(web, "/api/v1/query", query="prometheus_tsdb_head_series")
            groups = _get(web, "/api/v1/rules")
        finally:
            proc.terminate()
            proc.wait()
            server.shutdown()
    _report(args.nodes, version, series, len(alerts), median, missed, groups)


def _report(nodes: int, version: str, series: Any, alerts: int, median: Any, missed: Any, groups: Any) -> None:
    head = series[0]["value"][1] if series else "?"
    print(f"{version}\n{nodes} nodes, {head} head series, {alerts} alerts")
    lost = {r["metric"]["rule_group"].split(";")[-1]: float(r["value"][1]) for r in missed}
    print("group                    median eval   interval  missed iterations (last half)")
    for row in sorted(median, key=lambda r: r["metric"]["rule_group"]):
        name = row["metric"]["rule_group"].split(";")[-1]
        interval = next((g["interval"] for g in groups["groups"] if g["name"] == name), "?")
        print(f"  {name:22s} {float(row['value'][1]) * 1000:9.1f} ms   {interval:>6}s  {lost.get(name, 0):.0f}")
    rules = [(r["evaluationTime"], g["name"], r["name"]) for g in groups["groups"] for r in g["rules"]]
    print("slowest rules (last evaluation):")
    for seconds, group, name in sorted(rules, reverse=True)[:8]:
        print(f"  {group:22s} {name:34s} {seconds * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
