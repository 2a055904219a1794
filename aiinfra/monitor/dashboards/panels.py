"""Grafana panel and dashboard builders: plain dicts in the dashboard JSON model.

Plain dicts keep the committed JSON stable and readable; the tests check them against Grafana's own
dashboard model, the types grafana-foundation-sdk generates from Grafana's schema (its "next" flavour,
the nearest to the Grafana 13.2 that kube-prometheus-stack 88.5.3 deploys; the 11.x flavours are older):
every key must survive a round trip through its ``Dashboard``.

Example:
    >>> from aiinfra.monitor.dashboards.panels import timeseries
    >>> p = timeseries("Temp", ['DCGM_FI_DEV_GPU_TEMP{node=~"$node"}'], unit="celsius")
    >>> p["type"], p["targets"][0]["refId"]
    ('timeseries', 'A')
"""

from __future__ import annotations

from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 41
_WIDTH = 24


def _targets(exprs: list[str], legend: str, instant: bool = False, fmt: str = "time_series") -> list[dict[str, Any]]:
    return [
        {
            "datasource": DATASOURCE,
            "expr": e,
            "legendFormat": legend,
            "refId": chr(ord("A") + i),
            "instant": instant,
            "range": not instant,
            "format": fmt,
        }
        for i, e in enumerate(exprs)
    ]


def timeseries(
    title: str, exprs: list[str], unit: str = "short", legend: str = "__auto", description: str = ""
) -> dict[str, Any]:
    """A time series panel of one or more queries."""
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets(exprs, legend),
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def stat(
    title: str, expr: str, unit: str = "short", red_above: float | None = None, description: str = ""
) -> dict[str, Any]:
    """A single-number panel; red above ``red_above`` when given."""
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if red_above is not None:
        steps.append({"color": "red", "value": red_above})
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets([expr], "__auto", instant=True),
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
            "overrides": [],
        },
        "options": {"colorMode": "background", "reduceOptions": {"calcs": ["lastNotNull"]}},
    }


def matrix(
    title: str,
    expr: str,
    row: str,
    column: str,
    unit: str,
    steps: list[tuple[str, float | None]],
    description: str = "",
) -> dict[str, Any]:
    """A ``row`` x ``column`` heatmap table (e.g. node x rail) of an instant query, cells coloured by value."""
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets([expr], "__auto", instant=True, fmt="table"),
        "transformations": [
            {"id": "groupingToMatrix", "options": {"rowField": row, "columnField": column, "valueField": "Value"}}
        ],
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "custom": {"cellOptions": {"type": "color-background"}},
                "thresholds": {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]},
            },
            "overrides": [],
        },
        "options": {"showHeader": True},
    }


def table(title: str, expr: str, description: str = "") -> dict[str, Any]:
    """A table of an instant query (one row per series)."""
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets([expr], "__auto", instant=True, fmt="table"),
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {"showHeader": True},
    }


def variable(name: str, query: str, multi: bool = True) -> dict[str, Any]:
    """A query template variable (``label_values(...)``) with All selected by default."""
    return {
        "name": name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": name},
        "refresh": 2,
        "includeAll": multi,
        "multi": multi,
        "allValue": ".+",
        "current": {"text": "All", "value": "$__all"} if multi else {},
        "sort": 1,
    }


def dashboard(
    uid: str,
    title: str,
    rows: list[list[dict[str, Any]]],
    variables: list[dict[str, Any]],
    description: str,
    height: int = 8,
) -> dict[str, Any]:
    """A dashboard whose panels are laid out row by row, each row's panels sharing the width equally."""
    panels: list[dict[str, Any]] = []
    y = 0
    for row in rows:
        width = _WIDTH // len(row)
        for i, panel in enumerate(row):
            panels.append(
                {**panel, "id": len(panels) + 1, "gridPos": {"h": height, "w": width, "x": i * width, "y": y}}
            )
        y += height
    datasource = {
        "name": "datasource",
        "type": "datasource",
        "query": "prometheus",
        "label": "Data source",
        "current": {},
        "hide": 0,
    }
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["aiinfra"],
        "editable": False,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "timezone": "browser",
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "graphTooltip": 1,
        "panels": panels,
        "templating": {"list": [datasource, *variables]},
        "annotations": {"list": []},
        "links": [],
    }
