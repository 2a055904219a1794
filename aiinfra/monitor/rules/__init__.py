"""Alert rules as data: every alert with its thresholds, runbook text and promtool cases.

``alert_rules(definition)`` is the one list; ``aiinfra.monitor.rules.render`` writes it as a
plain Prometheus rules file, a PrometheusRule object, promtool unit tests and runbooks.

Example:
    >>> from aiinfra.definition import load_definition
    >>> from aiinfra.monitor.rules import alert_rules
    >>> len(alert_rules(load_definition("clusters/a800-ib.yaml"))) >= 35
    True
"""

from __future__ import annotations

from aiinfra.definition.model import ClusterDefinition
from aiinfra.monitor.rules.bond import bond_alerts
from aiinfra.monitor.rules.exporters import exporter_alerts
from aiinfra.monitor.rules.fabric import fabric_alerts
from aiinfra.monitor.rules.findings import finding_alerts
from aiinfra.monitor.rules.gpu import gpu_alerts
from aiinfra.monitor.rules.model import Alert, Case, Severity
from aiinfra.monitor.rules.ray import ray_alerts
from aiinfra.monitor.rules.thresholds import Thresholds

__all__ = ["Alert", "Case", "Severity", "Thresholds", "alert_rules"]


def alert_rules(d: ClusterDefinition, t: Thresholds | None = None) -> list[Alert]:
    """Every alert for the cluster ``d`` describes, in group order (node, gpu, infiniband, bond, exporters, ...)."""
    t = t or Thresholds()
    gpus = d.gpu.per_node if d.gpu else 0
    alerts = [
        *(gpu_alerts(t, gpus) if gpus else []),
        *fabric_alerts(t, d.rails),
        *bond_alerts(t, d.network.management_bond),
        *exporter_alerts(t),
        *ray_alerts(t),
        *finding_alerts(t),
    ]
    names = [a.name for a in alerts]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate alert names: {duplicates}")
    return alerts
