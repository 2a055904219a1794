"""Grafana dashboards generated from code; the JSON is committed under ``json/`` (package data).

Example:
    >>> from aiinfra.monitor.dashboards import dashboard_json, panel_queries
    >>> text = dashboard_json()["aiinfra-gpu"]
    >>> text.startswith("{")
    True
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aiinfra.monitor.dashboards.boards import all_dashboards

JSON_DIR = Path(__file__).resolve().parent / "json"

__all__ = ["JSON_DIR", "all_dashboards", "dashboard_json", "expand_query", "panel_queries"]


def dashboard_json() -> dict[str, str]:
    """Each dashboard as the JSON text committed in ``json/<uid>.json``."""
    return {
        uid: json.dumps(d, indent=2, ensure_ascii=False, sort_keys=False) + "\n" for uid, d in all_dashboards().items()
    }


def panel_queries(d: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) for every query target of every panel."""
    return [(p["title"], t["expr"]) for p in d["panels"] for t in p.get("targets", [])]


def expand_query(expr: str, rate_interval: str = "1m", interval: str = "15s") -> str:
    """A panel query as Grafana sends it with every template variable at All.

    >>> expand_query('rate(x{node=~"$node"}[$__rate_interval])')
    'rate(x{node=~".+"}[1m])'
    """
    expr = expr.replace("$__rate_interval", rate_interval).replace("$__interval", interval)
    return re.sub(r"\$\{?[a-z_]+\}?", ".+", expr)
