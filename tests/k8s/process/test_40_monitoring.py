"""Prometheus scrapes the rendered monitoring targets on process nodes: the exporter's DaemonSet pods, KubeRay, Ray.

A real Prometheus 3.x (``make monitor-tools``) runs in a network namespace on the simulator's pod bridge
(tests/k8s/process/pod_network_prometheus.py says why and how) and scrapes:

- the aiinfra exporter as the rendered DaemonSet runs it on both process nodes, its hostPath /sys and
  /proc being each node's generated tree, found through the rendered ServiceMonitor (its Service's
  Endpoints, as prometheus-operator would resolve them; the operator itself does not run here);
- the KubeRay operator's metrics (``-enable-metrics``), which here is a host process, not a pod behind
  the ``kuberay-operator`` Service the rendered ServiceMonitor selects: that Service is simulated by a
  static target with the labels the ServiceMonitor would give;
- the shared RayCluster's Ray pods through the rendered PodMonitor.

Simulated besides: the ``nvidia`` RuntimeClass the GPU Operator would create (the pods run as processes
whatever the runtime) and NVML (no GPU here: the GPU collectors report failure, which is what they must do).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.process import pod_network_prometheus as pnp
from tests.k8s.process.conftest import DEFINITION, NAME
from tests.monitor_tools import tool

pytestmark = pytest.mark.timeout(1800)
HOST_NS = "/proc/self/ns/net"
NAMESPACE = "monitoring"


def _apply_exporter(pkube: Any, d: Any) -> list[dict[str, Any]]:
    from aiinfra.monitor.exporter_deploy import render_exporter

    pkube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    # The GPU Operator creates this RuntimeClass on a real cluster; the admission plugin requires it.
    pkube.apply({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"},
                 "handler": "nvidia"})  # fmt: skip
    objects = render_exporter(d, namespace=NAMESPACE)
    for obj in objects:
        pkube.apply(obj)
    return objects


def _wait(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(2)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def _ready_addresses(core: Any, name: str) -> int:
    try:
        ep = core.read_namespaced_endpoints(name, NAMESPACE)
    except Exception:
        return 0
    return sum(len(s.addresses or []) for s in ep.subsets or [])


def _config(pkube: Any, d: Any, objects: list[dict[str, Any]], operator: tuple[str, int], rules: Path) -> dict:
    from aiinfra.monitor.rules.thresholds import Thresholds
    from aiinfra.monitor.stack.objects import kuberay_service_monitor, ray_pod_monitor
    from aiinfra.monitor.stack.values import MonitorOptions

    opts = MonitorOptions()
    sm = next(o for o in objects if o["kind"] == "ServiceMonitor")
    pm = ray_pod_monitor(d, opts)
    kuberay = kuberay_service_monitor(opts)
    # The Service KubeRay's chart creates carries app.kubernetes.io/name=kuberay-operator, the jobLabel.
    job = kuberay["spec"]["selector"]["matchLabels"][kuberay["spec"]["jobLabel"]]
    ns = kuberay["spec"]["namespaceSelector"]["matchNames"][0]
    t = Thresholds()

    def job_of(name: str, endpoint: dict[str, Any], targets: list[dict[str, Any]]) -> dict[str, Any]:
        return {"job_name": name, "scrape_interval": t.scrape_interval, "static_configs": targets,
                "honor_labels": endpoint.get("honorLabels", False),
                "relabel_configs": pnp.relabel_configs(endpoint.get("relabelings", []))}  # fmt: skip

    kuberay_target = {"targets": [f"{operator[0]}:{operator[1]}"],
                      "labels": {"job": job, "namespace": ns, "pod": "kuberay-operator", "service": job}}  # fmt: skip
    return {
        "global": {"scrape_interval": t.scrape_interval, "evaluation_interval": t.evaluation_interval},
        "rule_files": [str(rules)],
        "scrape_configs": [
            job_of("aiinfra-exporter", sm["spec"]["endpoints"][0], pnp.service_monitor_targets(pkube.core, sm)),
            job_of("aiinfra-ray", pm["spec"]["podMetricsEndpoints"][0], pnp.pod_monitor_targets(pkube.core, pm)),
            job_of("kuberay-operator", kuberay["spec"]["endpoints"][0], [kuberay_target]),
        ],
    }


@pytest.fixture(scope="module")
def prometheus(proc_sim, pkube, ray_cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from aiinfra.definition import load_definition
    from aiinfra.monitor.rules import alert_rules
    from aiinfra.monitor.rules.render import rules_file
    from aiinfra.monitor.rules.thresholds import Thresholds
    from aiinfra.netns.pods import PodNet, sim_id

    binary = tool("prometheus")
    d = load_definition(DEFINITION)
    objects = _apply_exporter(pkube, d)
    _wait("the exporter's Endpoints on both nodes", lambda: _ready_addresses(pkube.core, "aiinfra-exporter") >= 2, 300)
    work = tmp_path_factory.mktemp("prometheus")
    (work / "rules.yaml").write_text(rules_file(alert_rules(d), Thresholds()))
    net = PodNet(sim_id(proc_sim.state_dir))
    address = net.create(pnp.PROMETHEUS_SLOT)
    ns = net.path(pnp.PROMETHEUS_SLOT)
    op_port = proc_sim.ports()["ray-operator"]["metrics"]
    relays = [pnp.Relay(ns, ("127.0.0.1", op_port), HOST_NS, ("127.0.0.1", op_port))]
    config = _config(pkube, d, objects, ("127.0.0.1", op_port), work / "rules.yaml")
    (work / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc = subprocess.Popen(
        ["ip", "netns", "exec", net.netns(pnp.PROMETHEUS_SLOT), binary, f"--config.file={work}/prometheus.yml",
         f"--storage.tsdb.path={work}/data", f"--web.listen-address={address}:9090"],
        stdout=subprocess.DEVNULL, stderr=(work / "prometheus.log").open("w"),
    )  # fmt: skip
    try:
        relays.append(pnp.Relay(HOST_NS, ("127.0.0.1", 0), ns, (address, 9090)))
        url = f"http://127.0.0.1:{relays[-1].address[1]}"
        _wait("every target up", lambda: _all_up(url), 180)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        for r in relays:
            r.close()
        net.delete(pnp.PROMETHEUS_SLOT)
        for obj in reversed(objects):
            pkube.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))


def _get(url: str, path: str, **params: str) -> Any:
    with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(params)}", timeout=20) as r:
        return json.load(r)["data"]


def _all_up(url: str) -> bool:
    try:
        targets = _get(url, "/api/v1/targets")["activeTargets"]
    except OSError:
        return False
    jobs = {t["labels"]["job"] for t in targets if t["health"] == "up"}
    return len(targets) >= 6 and all(t["health"] == "up" for t in targets) and len(jobs) == 3


def _query(url: str, expr: str) -> list[dict[str, Any]]:
    return list(_get(url, "/api/v1/query", query=expr)["result"])


def test_the_exporter_pods_show_each_node_trees_hcas(prometheus: str) -> None:
    from aiinfra.definition import load_definition

    d = load_definition(DEFINITION)
    rows = _query(prometheus, 'aiinfra_infiniband_port_info{job="aiinfra-exporter"}')
    by_node: dict[str, set[tuple[str, str]]] = {}
    for r in rows:
        by_node.setdefault(r["metric"]["node"], set()).add((r["metric"]["device"], r["metric"]["rail"]))
    assert len(by_node) == 2, rows  # one exporter pod per process node, labelled by the ServiceMonitor
    for node, seen in by_node.items():
        assert seen == {(rail.hca, rail.name) for rail in d.rails}, node
    present = _query(prometheus, 'aiinfra_infiniband_rail_present{job="aiinfra-exporter"} == 1')
    assert len(present) == 2 * len(d.rails)


def test_kuberay_metrics_show_the_raycluster(prometheus: str) -> None:
    info = _query(prometheus, f'kuberay_cluster_info{{job="kuberay-operator",name="{NAME}"}}')
    assert [r["metric"]["owner_kind"] for r in info] == ["None"]
    provisioned = _query(prometheus, f'kuberay_cluster_condition_provisioned{{name="{NAME}"}}')
    assert [r["metric"]["condition"] for r in provisioned] == ["true"]


def test_rays_metrics_show_the_head_through_the_pod_monitor(prometheus: str) -> None:
    up = _query(prometheus, f'up{{job="aiinfra-ray",ray_cluster="{NAME}"}}')
    assert sorted(r["metric"]["ray_node_type"] for r in up) == ["head", "worker", "worker"]
    head = _query(prometheus, f'ray_node_cpu_utilization{{ray_io_cluster="{NAME}",ray_node_type="head"}}')
    assert head and head[0]["metric"]["IsHeadNode"] == "true"


# No GPU exists here (Ray reports GPU utilization from NVML), and the fabric test's textfile metrics come from
# node_exporter, which tests/test_monitor_e2e.py scrapes; every other panel must have data from this scrape.
NOT_FROM_THIS_SCRAPE = {
    "Ray node GPU utilization",
    "Fabric test: rail bandwidth / expected (node x rail)",
    "Fabric test: NCCL over sockets",
}


def test_every_ray_dashboard_query_returns_data(prometheus: str) -> None:
    from aiinfra.monitor.dashboards import all_dashboards, expand_query, panel_queries

    queries = panel_queries(all_dashboards()["aiinfra-ray"])
    assert {title for title, _ in queries} >= NOT_FROM_THIS_SCRAPE
    empty = [
        (title, q)
        for title, q in queries
        if title not in NOT_FROM_THIS_SCRAPE and not _query(prometheus, expand_query(q, rate_interval="1m"))
    ]
    assert empty == []


def test_every_ray_alert_uses_a_scraped_metric_and_none_fires(prometheus: str) -> None:
    from aiinfra.monitor.rules.ray import ray_alerts
    from aiinfra.monitor.rules.thresholds import Thresholds

    missing = []
    for alert in ray_alerts(Thresholds()):
        selectors = re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}", alert.expr)
        # a bare metric as a function's first argument, e.g. label_replace(kuberay_cluster_info, ...)
        selectors += [
            (name, "") for name in re.findall(r"(?<!on )(?<!by )\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,", alert.expr)
        ]
        assert selectors, alert.expr
        for metric, matchers in selectors:
            job = ",".join(m for m in matchers.split(",") if m.startswith("job="))
            if not _query(prometheus, f"{metric}{{{job}}}"):
                missing.append((alert.name, metric, job))
    assert missing == []
    time.sleep(15)  # a few rule evaluations on the scraped data
    firing = {a["labels"]["alertname"] for a in _get(prometheus, "/api/v1/alerts")["alerts"] if a["state"] == "firing"}
    assert not firing & {a.name for a in ray_alerts(Thresholds())}, firing


def test_dashboard_screenshots_plot_this_scrape(prometheus: str, tmp_path: Path) -> None:
    """The docs' dashboard pictures: AIINFRA_DOCS_PNG=1 writes them to docs/images/ (committed)."""
    import os

    from tests.monitor.dashboard_png import render_png

    out = Path(__file__).resolve().parents[3] / "docs" / "images" if os.environ.get("AIINFRA_DOCS_PNG") else tmp_path
    out.mkdir(exist_ok=True)
    counts = render_png(prometheus, "aiinfra-ray", out / "dashboard-ray.png")
    assert {t for t, n in counts.items() if n == 0} == NOT_FROM_THIS_SCRAPE
    assert (out / "dashboard-ray.png").stat().st_size > 10_000
