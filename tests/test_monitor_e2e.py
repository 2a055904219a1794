"""End to end with a real Prometheus: rendered rules fire on injected faults, stay quiet on a healthy node,
and every dashboard panel query is accepted by the server.

The scrape target is a local endpoint serving node_exporter/aiinfra-exporter formatted series
(node_exporter over fixture trees is the exporter issue's part).
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from monitor_tools import tool

from aiinfra.definition import load_definition
from aiinfra.monitor.dashboards import all_dashboards, expand_query, panel_queries
from aiinfra.monitor.rules import Thresholds, alert_rules
from aiinfra.monitor.rules.render import rules_file

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = load_definition(ROOT / "clusters" / "a800-ib.yaml")
FAULTS = {"IbPortDown", "IbRateDegraded", "GpuXidFatal", "BondMemberDown", "BondMemberWrongAggregator"}


def _exposition(faulty: bool) -> str:
    lines = []
    for i, rail in enumerate(DEFINITION.rails):
        labels = f'device="{rail.hca}",port="{rail.port}"'
        full = rail.rate_gbps * 1e9 / 8
        state, phys, rate = (1, 3, full) if faulty and i == 0 else (4, 5, full / 2 if faulty and i == 1 else full)
        lines += [
            f"node_infiniband_state_id{{{labels}}} {state}",
            f"node_infiniband_physical_state_id{{{labels}}} {phys}",
            f"node_infiniband_rate_bytes_per_second{{{labels}}} {rate:.0f}",
            f'aiinfra_infiniband_port_info{{{labels},rail="{rail.name}"}} 1',
            f'aiinfra_infiniband_port_expected_rate_bytes_per_second{{{labels},rail="{rail.name}"}} {full:.0f}',
        ]
    lines += [
        'node_bonding_slaves{master="bond0"} 2',
        f'node_bonding_active{{master="bond0"}} {1 if faulty else 2}',
        f'aiinfra_bond_slave_aggregator_mismatch{{bond="bond0",slave="eth1"}} {1 if faulty else 0}',
    ]
    lines += [f'DCGM_FI_DEV_GPU_TEMP{{gpu="{g}"}} 40' for g in range(8)]
    if faulty:
        lines.append('aiinfra_gpu_xid_errors_total{gpu="3",xid="79"} 1')
    return "\n".join(lines) + "\n"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    binary = tool("prometheus")
    state = {"text": _exposition(False)}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(state["text"].encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", _port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    t = Thresholds()
    (tmp_path / "rules.yaml").write_text(rules_file(alert_rules(DEFINITION), t))
    target = {"targets": [f"127.0.0.1:{server.server_address[1]}"], "labels": {"node": "gpu-1"}}
    config = {
        "global": {"scrape_interval": t.scrape_interval, "evaluation_interval": t.evaluation_interval},
        "rule_files": [str(tmp_path / "rules.yaml")],
        "scrape_configs": [{"job_name": "node-exporter", "static_configs": [target]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    web = _port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path}/prometheus.yml",
            f"--storage.tsdb.path={tmp_path}/data",
            f"--web.listen-address=127.0.0.1:{web}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield web, state
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        server.shutdown()


def _get(port: int, path: str, **params: str) -> dict:
    url = f"http://127.0.0.1:{port}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as r:
        return dict(json.load(r))


def _firing(port: int) -> set[str]:
    return {a["labels"]["alertname"] for a in _get(port, "/api/v1/alerts")["data"]["alerts"] if a["state"] == "firing"}


def test_faults_fire_healthy_is_quiet_and_panels_query(prometheus: tuple[int, dict[str, str]]) -> None:
    port, state = prometheus
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(port, "/api/v1/query", query="up")["data"]["result"]:
                break
        except OSError:
            pass
        time.sleep(1)
    time.sleep(25)  # several healthy evaluations
    assert _firing(port) == set()
    for title, query in (q for d in all_dashboards().values() for q in panel_queries(d)):
        assert _get(port, "/api/v1/query", query=expand_query(query))["status"] == "success", title
    state["text"] = _exposition(True)
    deadline = time.monotonic() + 90
    while not _firing(port) >= FAULTS and time.monotonic() < deadline:
        time.sleep(1)
    assert _firing(port) >= FAULTS
