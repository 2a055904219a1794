"""Dashboards: committed JSON is fresh, matches the dashboard schema, and every panel query parses in promtool."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from monitor_tools import tool

from aiinfra.monitor.dashboards import JSON_DIR, all_dashboards, dashboard_json, expand_query, panel_queries

# The part of Grafana's dashboard JSON model the generated dashboards use; Grafana's own schema
# (kinds/dashboard) requires these fields and types.
PANEL = {
    "type": "object",
    "required": ["id", "type", "title", "gridPos", "datasource", "targets", "fieldConfig"],
    "properties": {
        "id": {"type": "integer"},
        "type": {"enum": ["timeseries", "stat", "table", "heatmap", "state-timeline", "bargauge"]},
        "title": {"type": "string", "minLength": 1},
        "gridPos": {
            "type": "object",
            "required": ["h", "w", "x", "y"],
            "properties": {k: {"type": "integer", "minimum": 0} for k in "hwxy"},
        },
        "targets": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["expr", "refId", "datasource"],
                "properties": {"expr": {"type": "string", "minLength": 1}, "refId": {"type": "string"}},
            },
        },
        "fieldConfig": {"type": "object", "required": ["defaults", "overrides"]},
    },
}
DASHBOARD = {
    "type": "object",
    "required": ["uid", "title", "panels", "schemaVersion", "templating", "time"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "schemaVersion": {"type": "integer", "minimum": 36},
        "panels": {"type": "array", "minItems": 4, "items": PANEL},
        "templating": {"type": "object", "required": ["list"]},
    },
}


def lost_in_grafanas_model(doc: dict[str, object]) -> list[str]:
    """Key paths of a dashboard that Grafana's dashboard model (grafana-foundation-sdk) does not keep."""
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    back = json.loads(json.dumps(Dashboard.from_json(doc), cls=JSONEncoder))

    def walk(a: object, b: object, path: str) -> list[str]:
        if isinstance(a, dict):
            if not isinstance(b, dict):
                return [f"{path}: not an object"]
            return [p for k, v in a.items() for p in ([f"{path}.{k}"] if k not in b else walk(v, b[k], f"{path}.{k}"))]
        if isinstance(a, list):
            if not isinstance(b, list) or len(a) != len(b):
                return [f"{path}: not the same list"]
            return [p for i, (x, y) in enumerate(zip(a, b, strict=True)) for p in walk(x, y, f"{path}[{i}]")]
        return []

    return walk(doc, back, "")


@pytest.mark.parametrize("uid", sorted(all_dashboards()))
def test_every_key_survives_grafanas_dashboard_model(uid: str) -> None:
    assert lost_in_grafanas_model(json.loads(dashboard_json()[uid])) == []


def test_a_key_grafana_does_not_know_is_found() -> None:
    doc = json.loads(dashboard_json()["aiinfra-gpu"])
    doc["templating"]["list"][0]["definition"] = "x"
    doc["panels"][0]["gridPos"]["depth"] = 3
    assert sorted(lost_in_grafanas_model(doc)) == [".panels[0].gridPos.depth", ".templating.list[0].definition"]


def test_committed_json_is_fresh() -> None:
    expected = dashboard_json()
    if os.environ.get("UPDATE_GOLDEN") == "1":
        JSON_DIR.mkdir(exist_ok=True)
        for uid, text in expected.items():
            (JSON_DIR / f"{uid}.json").write_text(text, encoding="utf-8")
    assert sorted(p.stem for p in JSON_DIR.glob("*.json")) == sorted(expected)
    for uid, text in expected.items():
        assert (JSON_DIR / f"{uid}.json").read_text(encoding="utf-8") == text, f"{uid}.json is stale; make golden"


@pytest.mark.parametrize("uid", sorted(all_dashboards()))
def test_schema_and_layout(uid: str) -> None:
    d = json.loads(dashboard_json()[uid])
    jsonschema.validate(d, DASHBOARD)
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    for p in d["panels"]:
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24


def test_the_five_dashboards_exist() -> None:
    titles = {d["title"] for d in all_dashboards().values()}
    for word in ("Cluster", "GPU", "InfiniBand", "bond", "Ray"):
        assert any(word in t for t in titles), word
    ib = all_dashboards()["aiinfra-infiniband"]
    assert any(p.get("transformations", [{}])[0].get("options", {}).get("columnField") == "rail" for p in ib["panels"])


def test_every_query_parses(tmp_path: Path) -> None:
    """Each panel query, variables substituted, as a recording rule: promtool parses it with Prometheus' parser."""
    promtool = tool("promtool")
    rules = [
        {"record": f"aiinfra:panel{i}", "expr": expand_query(q)}
        for i, (_, q) in enumerate(q for d in all_dashboards().values() for q in panel_queries(d))
    ]
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    run = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_ray_dashboards_are_rays_own_and_fresh() -> None:
    """Ray's dashboards are what the installed Ray's factory generates (UPDATE_GOLDEN=1 regenerates)."""
    import ray  # a hard dependency: a broken install fails here, never skips  # noqa: F401

    from aiinfra.monitor.dashboards import RAY_JSON_DIR, ray_dashboard_json
    from aiinfra.monitor.ray_dashboards import generate_ray_dashboards

    expected = generate_ray_dashboards()
    if os.environ.get("UPDATE_GOLDEN") == "1":
        RAY_JSON_DIR.mkdir(parents=True, exist_ok=True)
        for stale in RAY_JSON_DIR.glob("*.json"):
            stale.unlink()
        for name, text in expected.items():
            (RAY_JSON_DIR / f"{name}.json").write_text(text, encoding="utf-8")
    assert ray_dashboard_json() == expected, "Ray's dashboards are stale (another Ray installed?); make golden"


def test_ray_dashboards_filter_on_the_label_our_pod_monitor_sets() -> None:
    """Ray's dashboards select clusters by ray_io_cluster: the rendered PodMonitor must produce it."""
    from aiinfra.definition import load_definition
    from aiinfra.monitor.dashboards import ray_dashboard_json
    from aiinfra.monitor.stack.objects import ray_pod_monitor
    from aiinfra.monitor.stack.values import MonitorOptions

    d = load_definition(Path(__file__).resolve().parent.parent / "clusters" / "a800-ib.yaml")
    relabel = ray_pod_monitor(d, MonitorOptions())["spec"]["podMetricsEndpoints"][0]["relabelings"]
    targets = {r.get("targetLabel") for r in relabel}
    assert "ray_io_cluster" in targets
    filtered = [n for n, text in ray_dashboard_json().items() if "ray_io_cluster" in text]
    assert filtered == ["ray-data", "ray-default"]  # ray-train selects by SessionName and run
