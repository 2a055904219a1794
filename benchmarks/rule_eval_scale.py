"""Rule evaluation time for many nodes: a real Prometheus evaluates the rendered rules over N simulated nodes.

One local endpoint serves every node's series (labels ``node="gpu-<n>"``, ``honor_labels``): 4 rails
(state, physical state, rate, error counters), 8 GPUs (DCGM and aiinfra series) and a bond per node.
After a minute, the script reads ``prometheus_rule_group_last_duration_seconds`` per group.
(promtool's test engine refuses this many samples, so a server is used.)

    python benchmarks/rule_eval_scale.py --nodes 1000
"""

from __future__ import annotations

import argparse
import http.server
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from aiinfra.definition import load_definition
from aiinfra.monitor.rules import Thresholds, alert_rules
from aiinfra.monitor.rules.render import rules_file

ROOT = Path(__file__).resolve().parent.parent


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
                f"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{{gl}}} {time.time():.0f}",
                f"aiinfra_gpu_row_remap_pending{{{gl}}} 0",
                f'aiinfra_gpu_xid_errors_total{{{gl},xid="13"}} 0',
            ]
        lines += [f'node_bonding_slaves{{{node},master="bond0"}} 2', f'node_bonding_active{{{node},master="bond0"}} 2']
    return "\n".join(lines) + "\n"


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
            self.wfile.write(body)

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
        binary = shutil.which("prometheus") or "prometheus"
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
            q = urllib.parse.urlencode(
                {"query": "quantile_over_time(0.5, prometheus_rule_group_last_duration_seconds[1m])"}
            )
            with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/v1/query?{q}", timeout=10) as r:
                result = json.load(r)["data"]["result"]
            q = urllib.parse.urlencode({"query": "prometheus_tsdb_head_series"})
            with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/v1/query?{q}", timeout=10) as r:
                series = json.load(r)["data"]["result"][0]["value"][1]
        finally:
            proc.terminate()
            proc.wait()
            server.shutdown()
    total = 0.0
    print(
        f"{args.nodes} nodes, {series} head series, {len(alerts)} alerts; "
        "median group evaluation time over the last minute:"
    )
    for row in sorted(result, key=lambda r: r["metric"]["rule_group"]):
        seconds = float(row["value"][1])
        total += seconds
        print(f"  {row['metric']['rule_group'].split(';')[-1]:24s} {seconds * 1000:8.1f} ms")
    print(f"  {'all groups':24s} {total * 1000:8.1f} ms (evaluation interval {t.evaluation_interval})")


if __name__ == "__main__":
    main()
