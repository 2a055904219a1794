"""Fabric labels of Ray nodes in a RayCluster: the pod's node name joined with the published map."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiinfra.contract import K8S_NODE_LABEL
from aiinfra.placement.fabric_labels import load_fabric_labels, with_fabric_labels
from aiinfra.placement.plan import NodeInfo, plan

LEAF = "network.topology.nvidia.com/leaf"


def test_missing_or_broken_file_means_no_labels(tmp_path: Path) -> None:
    assert load_fabric_labels(tmp_path / "absent.json") == {}
    (tmp_path / "bad.json").write_text("{not json")
    assert load_fabric_labels(tmp_path / "bad.json") == {}


def test_ray_labels_win_over_the_published_ones() -> None:
    table = {"n1": {LEAF: "leaf0", "x": "from-k8s"}}
    assert with_fabric_labels({K8S_NODE_LABEL: "n1", "x": "from-ray"}, table) == {
        LEAF: "leaf0", "x": "from-ray", K8S_NODE_LABEL: "n1",
    }
    assert with_fabric_labels({K8S_NODE_LABEL: "unknown"}, table) == {K8S_NODE_LABEL: "unknown"}


def test_planner_keeps_a_job_under_one_leaf_with_published_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Four 8-GPU Ray nodes whose only label is their Kubernetes node; the map puts two per leaf.
    path = tmp_path / "nodes.json"
    path.write_text(json.dumps({f"k{i}": {LEAF: f"leaf{i // 2}"} for i in range(4)}))
    monkeypatch.setenv("AIINFRA_TOPOLOGY_FILE", str(path))
    table = load_fabric_labels()
    order = [3, 0, 2, 1]  # Ray lists nodes in no particular fabric order
    nodes = [
        NodeInfo(f"ray{i}", f"10.0.0.{i}", {"GPU": 8.0, "CPU": 16.0}, None,
                 with_fabric_labels({K8S_NODE_LABEL: f"k{i}"}, table))
        for i in order
    ]
    chosen = plan(nodes, 16, topology_labels=(LEAF,))
    assert chosen.leaf_groups_used == 1
