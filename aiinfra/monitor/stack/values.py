"""kube-prometheus-stack values for an aiinfra cluster.

The selectors are opened (``*SelectorNilUsesHelmValues: false`` with empty selectors) so
Prometheus picks up ServiceMonitors, PodMonitors and PrometheusRules that do not carry the
chart's ``release`` label: ours, the GPU Operator's dcgm-exporter monitor and KubeRay's.

Example:
    >>> from aiinfra.monitor.stack.values import MonitorOptions, stack_values
    >>> v = stack_values(MonitorOptions(registry="reg.local", pull_secret="regcred"))
    >>> v["global"]["imagePullSecrets"]
    [{'name': 'regcred'}]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiinfra.definition.model import ClusterDefinition
from aiinfra.monitor.exporter_deploy import node_exporter_values
from aiinfra.monitor.rules.thresholds import Thresholds
from aiinfra.monitor.stack.alertmanager import alertmanager_config

DASHBOARD_LABEL = "grafana_dashboard"
SELECTED_KINDS = ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig")

# Every node-side target gets the Kubernetes node name as `node`: the label every rule and
# dashboard joins on.
NODE_RELABEL = {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node", "action": "replace"}
# The network test's textfile (aiinfra.contract.TEXTFILE_DIR) names the nodes it measured, and the scrape
# renames that `node` to `exported_node` because the target has one: put it back, so a finding names the node
# it is about, not the node whose node_exporter served the file.
REPORT_NODE_RELABEL = [
    {"sourceLabels": ["exported_node"], "regex": "(.+)", "targetLabel": "node", "replacement": "$1",
     "action": "replace"},
    {"regex": "exported_node", "action": "labeldrop"},
]  # fmt: skip


@dataclass(frozen=True)
class MonitorOptions:
    """Where and how the stack is installed; everything else comes from the definition."""

    release: str = "kube-prometheus-stack"
    namespace: str = "monitoring"
    registry: str | None = None
    """Pull every image from this registry (an air-gapped mirror)."""
    pull_secret: str | None = None
    webhooks: Mapping[str, str] = field(default_factory=dict)
    """Receiver name (page, ticket, job-owner) -> webhook URL."""
    thresholds: Thresholds = field(default_factory=Thresholds)


def _prometheus_spec(t: Thresholds) -> dict[str, Any]:
    spec: dict[str, Any] = {"scrapeInterval": "15s", "evaluationInterval": t.evaluation_interval, "retention": "15d"}
    for kind in SELECTED_KINDS:
        spec[f"{kind}SelectorNilUsesHelmValues"] = False
        spec[f"{kind}Selector"] = {}
        spec[f"{kind}NamespaceSelector"] = {}
    return spec


def stack_values(opts: MonitorOptions, d: ClusterDefinition | None = None) -> dict[str, Any]:
    """Helm values for kube-prometheus-stack (checked key by key against the chart's own values.yaml in tests).

    With the definition, node_exporter gets its InfiniBand, bonding and PCIe device collectors, limited to the rails'
    HCAs (:func:`aiinfra.monitor.exporter_deploy.node_exporter_values`).
    """
    glob: dict[str, Any] = {}
    if opts.registry:
        glob["imageRegistry"] = opts.registry
    if opts.pull_secret:
        glob["imagePullSecrets"] = [{"name": opts.pull_secret}]
    values: dict[str, Any] = {
        "prometheus": {"prometheusSpec": _prometheus_spec(opts.thresholds)},
        "alertmanager": {"config": alertmanager_config(opts.webhooks)},
        "grafana": {
            "sidecar": {
                "dashboards": {"enabled": True, "label": DASHBOARD_LABEL, "labelValue": "1", "searchNamespace": "ALL"}
            },
            # Ray's dashboard embeds Grafana panels in an iframe.
            "grafana.ini": {"security": {"allow_embedding": True}},
        },
        "prometheus-node-exporter": {
            "prometheus": {
                "monitor": {
                    "interval": opts.thresholds.scrape_interval,
                    "scrapeTimeout": f"{opts.thresholds.scrape_timeout_seconds:g}s",
                    "relabelings": [NODE_RELABEL],
                    "metricRelabelings": REPORT_NODE_RELABEL,
                }
            },
        },
    }
    if d is not None:
        values["prometheus-node-exporter"].update(node_exporter_values(d))
    if glob:
        values["global"] = glob
    return values


FREE_FORM = frozenset({"grafana.grafana.ini", "alertmanager.config"})
"""Values that are another program's configuration, passed through verbatim (checked by that program)."""


def unknown_keys(ours: Any, defaults: Any, path: str = "") -> list[str]:
    """Key paths of ``ours`` that the chart's default values do not have.

    Below a default that is an empty map or a list, and below :data:`FREE_FORM` paths, any key is allowed.

    >>> unknown_keys({"a": {"b": 1, "x": 2}, "m": {"any": 1}}, {"a": {"b": 0}, "m": {}})
    ['a.x']
    """
    if not isinstance(ours, dict) or not isinstance(defaults, dict) or not defaults or path in FREE_FORM:
        return []
    problems = []
    for key, value in ours.items():
        where = f"{path}.{key}" if path else key
        if key not in defaults:
            problems.append(where)
        else:
            problems.extend(unknown_keys(value, defaults[key], where))
    return problems
