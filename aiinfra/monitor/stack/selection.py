"""Which objects the chart's Prometheus really selects: the ``release`` label pitfall, made checkable.

kube-prometheus-stack turns an empty selector into ``matchLabels: {release: <release>}`` while
``<kind>SelectorNilUsesHelmValues`` is true (its default), so objects without that label are
silently ignored. This module computes the selector the chart renders from merged values and
matches objects against it with Kubernetes label-selector semantics.

Example:
    >>> from aiinfra.monitor.stack.selection import effective_selector, matches
    >>> spec = {"ruleSelectorNilUsesHelmValues": True, "ruleSelector": {}}
    >>> effective_selector(spec, "rule", "kps")
    {'matchLabels': {'release': 'kps'}}
    >>> matches({'matchLabels': {'release': 'kps'}}, {"app": "x"})
    False
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KIND_OF = {"ServiceMonitor": "serviceMonitor", "PodMonitor": "podMonitor", "PrometheusRule": "rule"}


def merge(base: Any, over: Any) -> Any:
    """Helm's merge of user values over chart defaults: maps merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base.get(k), v) if k in base else v
        return out
    return over


def effective_selector(spec: Mapping[str, Any], kind: str, release: str) -> dict[str, Any]:
    """The label selector the chart renders into the Prometheus object for ``kind`` (e.g. ``rule``)."""
    selector = spec.get(f"{kind}Selector") or {}
    if not selector and spec.get(f"{kind}SelectorNilUsesHelmValues", True):
        return {"matchLabels": {"release": release}}
    return dict(selector)


def matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Kubernetes label-selector semantics: matchLabels and matchExpressions all hold; {} selects everything."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def unselected(values: Mapping[str, Any], objects: list[dict[str, Any]], release: str) -> list[str]:
    """``Kind/name`` of every ServiceMonitor, PodMonitor or PrometheusRule the Prometheus would not pick up."""
    spec = values.get("prometheus", {}).get("prometheusSpec", {})
    missed = []
    for obj in objects:
        kind = KIND_OF.get(obj["kind"])
        if kind is None:
            continue
        selector = effective_selector(spec, kind, release)
        ns_selector = spec.get(f"{kind}NamespaceSelector")
        # A nil namespace selector means the Prometheus' own namespace only; {} means all namespaces.
        ns_ok = ns_selector is not None and matches(
            ns_selector, {"kubernetes.io/metadata.name": obj["metadata"]["namespace"]}
        )
        if not (matches(selector, obj["metadata"].get("labels", {})) and ns_ok):
            missed.append(f"{obj['kind']}/{obj['metadata']['name']}")
    return missed
