"""The Kubernetes objects aiinfra adds to kube-prometheus-stack: rules, dashboards, Ray and KubeRay monitors.

Example:
    >>> from aiinfra.definition import load_definition
    >>> from aiinfra.monitor.stack.objects import monitoring_objects
    >>> from aiinfra.monitor.stack.values import MonitorOptions
    >>> objs = monitoring_objects(load_definition("clusters/a800-ib.yaml"), MonitorOptions())
    >>> sorted({o["kind"] for o in objs})
    ['ConfigMap', 'PodMonitor', 'PrometheusRule', 'ServiceMonitor']
"""

from __future__ import annotations

from typing import Any

from aiinfra.definition.model import ClusterDefinition
from aiinfra.monitor.dashboards import dashboard_json, ray_dashboard_json
from aiinfra.monitor.rules import alert_rules
from aiinfra.monitor.rules import metrics as m
from aiinfra.monitor.rules.render import PART_OF, prometheus_rule
from aiinfra.monitor.stack.values import DASHBOARD_LABEL, NODE_RELABEL, MonitorOptions

RAY_METRICS_PORT = "metrics"
"""Name of the Ray pods' metrics port (8080) the PodMonitor scrapes; the RayCluster renderer must declare it."""


def _meta(name: str, namespace: str, **labels: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": name, **PART_OF, **labels}}


def dashboard_configmaps(namespace: str) -> list[dict[str, Any]]:
    """One ConfigMap per dashboard, ours and Ray's own, labelled for the Grafana sidecar."""
    boards = {**dashboard_json(), **ray_dashboard_json()}
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(f"aiinfra-dashboard-{uid.removeprefix('aiinfra-')}", namespace, **{DASHBOARD_LABEL: "1"}),
            "data": {f"{uid}.json": text},
        }
        for uid, text in boards.items()
    ]


def ray_pod_monitor(d: ClusterDefinition, opts: MonitorOptions) -> dict[str, Any]:
    """Scrape every Ray pod's metrics port; copy the cluster and node type from KubeRay's pod labels."""
    namespace = d.ray.namespace if d.ray else "default"
    relabel = [
        {"sourceLabels": ["__meta_kubernetes_pod_label_ray_io_cluster"], "targetLabel": "ray_cluster"},
        # Ray's own dashboards filter on ray_io_cluster (the label KubeRay's sample PodMonitor sets).
        {"sourceLabels": ["__meta_kubernetes_pod_label_ray_io_cluster"], "targetLabel": "ray_io_cluster"},
        {"sourceLabels": ["__meta_kubernetes_pod_label_ray_io_node_type"], "targetLabel": "ray_node_type"},
        {"sourceLabels": ["__meta_kubernetes_pod_name"], "targetLabel": "pod"},
        NODE_RELABEL,
        {"targetLabel": "job", "replacement": m.JOB_RAY},
    ]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": _meta(m.JOB_RAY, opts.namespace),
        "spec": {
            "namespaceSelector": {"matchNames": [namespace]},
            "selector": {
                "matchExpressions": [{"key": "ray.io/node-type", "operator": "In", "values": ["head", "worker"]}]
            },
            "podMetricsEndpoints": [{"port": RAY_METRICS_PORT, "interval": "15s", "relabelings": relabel}],
        },
    }


def kuberay_service_monitor(opts: MonitorOptions, operator_namespace: str = "kuberay-system") -> dict[str, Any]:
    """Scrape the KubeRay operator's metrics (the kuberay-operator Service, port ``http``)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": _meta(m.JOB_KUBERAY, opts.namespace),
        "spec": {
            "namespaceSelector": {"matchNames": [operator_namespace]},
            "selector": {"matchLabels": {"app.kubernetes.io/name": "kuberay-operator"}},
            "jobLabel": "app.kubernetes.io/name",
            # KubeRay's series carry the RayCluster's own namespace label: without honorLabels the target's
            # (the operator's namespace) would win and rename it exported_namespace.
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s", "honorLabels": True}],
        },
    }


def monitoring_objects(d: ClusterDefinition, opts: MonitorOptions) -> list[dict[str, Any]]:
    """Everything ``aiinfra monitor deploy`` applies besides the Helm release: rules, dashboards, monitors."""
    rules = prometheus_rule(alert_rules(d, opts.thresholds), f"aiinfra-{d.name}", opts.namespace, opts.thresholds)
    return [rules, ray_pod_monitor(d, opts), kuberay_service_monitor(opts), *dashboard_configmaps(opts.namespace)]
