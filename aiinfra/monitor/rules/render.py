"""Render alerts as a Prometheus rules file, a PrometheusRule object and promtool unit tests.

Example:
    >>> from aiinfra.definition import load_definition
    >>> from aiinfra.monitor.rules import alert_rules
    >>> from aiinfra.monitor.rules.render import rule_groups
    >>> groups = rule_groups(alert_rules(load_definition("clusters/a800-ib.yaml")))
    >>> [g["name"] for g in groups][:2]
    ['aiinfra-gpu', 'aiinfra-infiniband']
"""

from __future__ import annotations

from typing import Any

import yaml

from aiinfra.monitor.rules.model import Alert
from aiinfra.monitor.rules.thresholds import Thresholds

RULES_FILE = "aiinfra.rules.yaml"
PART_OF = {"app.kubernetes.io/part-of": "aiinfra", "app.kubernetes.io/component": "monitoring"}

# Fast groups evaluate every few seconds so link-down and fatal XIDs fire within 30 s; Ray and the
# fabric test change slowly.
_SLOW_SUBSYSTEMS = ("ray", "fabric-test")


def _subsystems(alerts: list[Alert]) -> list[str]:
    seen: list[str] = []
    for a in alerts:
        if a.subsystem not in seen:
            seen.append(a.subsystem)
    return seen


def rule(a: Alert) -> dict[str, Any]:
    """One alerting rule as Prometheus reads it."""
    return {"alert": a.name, "expr": a.expr, "for": a.for_, "labels": a.rule_labels(), "annotations": a.annotations()}


def rule_groups(alerts: list[Alert], t: Thresholds | None = None) -> list[dict[str, Any]]:
    """The rule groups, one per subsystem, each with its evaluation interval."""
    t = t or Thresholds()
    groups = []
    for sub in _subsystems(alerts):
        interval = t.slow_evaluation_interval if sub in _SLOW_SUBSYSTEMS else t.evaluation_interval
        groups.append(
            {"name": f"aiinfra-{sub}", "interval": interval, "rules": [rule(a) for a in alerts if a.subsystem == sub]}
        )
    return groups


def rules_file(alerts: list[Alert], t: Thresholds | None = None) -> str:
    """A plain Prometheus rules file (``rule_files:``), as YAML text."""
    return dump({"groups": rule_groups(alerts, t)})


def prometheus_rule(alerts: list[Alert], name: str, namespace: str, t: Thresholds | None = None) -> dict[str, Any]:
    """The same groups as a prometheus-operator PrometheusRule object."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": name, **PART_OF}},
        "spec": {"groups": rule_groups(alerts, t)},
    }


def promtool_tests(alerts: list[Alert], t: Thresholds | None = None) -> dict[str, str]:
    """``promtool test rules`` files, one per subsystem: each alert fires on its bad case, is quiet on its good one."""
    t = t or Thresholds()
    files = {}
    for sub in _subsystems(alerts):
        tests = []
        for a in (a for a in alerts if a.subsystem == sub):
            tests.append(_test(a, "fires", a.fires.series, a.fires.at, list(a.fires.alerts), t))
            tests.append(_test(a, "stays quiet", a.quiet.series, a.quiet.at, [], t))
        doc = {"rule_files": [RULES_FILE], "evaluation_interval": t.evaluation_interval, "tests": tests}
        files[f"test-{sub}.yaml"] = dump(doc)
    return files


def _test(
    a: Alert, what: str, series: tuple[tuple[str, str], ...], at: str, expected: list[dict[str, str]], t: Thresholds
) -> dict[str, Any]:
    exp = [
        {
            "exp_labels": {**labels, **a.rule_labels()},
            "exp_annotations": {
                "summary": a.summary_for(labels),
                "description": a.description_for(labels),
                "runbook_url": a.runbook_url,
            },
        }
        for labels in expected
    ]
    return {
        "name": f"{a.name} {what}",
        "interval": t.scrape_interval,
        "input_series": [{"series": s, "values": v} for s, v in series],
        "alert_rule_test": [{"eval_time": at, "alertname": a.name, "exp_alerts": exp}],
    }


def dump(doc: Any) -> str:
    """YAML the way every aiinfra rendering writes it: block style, keys in insertion order, UTF-8."""
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)
