"""Fabric location of Ray nodes inside a RayCluster.

A pod cannot read its node's labels (the downward API stops at the pod), so
the fabric labels (leaf, spine) reach Ray in two halves: each worker starts
Ray with the label ``aiinfra.io/k8s-node=<its node>`` (downward API), and
once the cluster is ready ``launch()`` writes a ConfigMap, mounted in every
pod, mapping those nodes to their topology labels. The placement layer joins
the two, so topology-aware placement works with namespace rights alone.

Example:
    >>> table = {"gpu-017": {"network.topology.nvidia.com/leaf": "leaf3"}}
    >>> with_fabric_labels({K8S_NODE_LABEL: "gpu-017"}, table)["network.topology.nvidia.com/leaf"]
    'leaf3'
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from aiinfra.contract import K8S_NODE_LABEL, TOPOLOGY_DIR, TOPOLOGY_FILE_ENV, TOPOLOGY_KEY


def load_fabric_labels(path: str | Path | None = None) -> dict[str, dict[str, str]]:
    """The node -> labels map mounted in this pod ({} when absent or unreadable)."""
    file = Path(path or os.environ.get(TOPOLOGY_FILE_ENV) or Path(TOPOLOGY_DIR) / TOPOLOGY_KEY)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.items() if isinstance(v, dict)}


def with_fabric_labels(labels: dict[str, str], table: dict[str, dict[str, str]]) -> dict[str, str]:
    """A Ray node's labels plus the fabric labels of the Kubernetes node it runs on."""
    node = labels.get(K8S_NODE_LABEL)
    if not node or node not in table:
        return labels
    return {**table[node], **labels}
