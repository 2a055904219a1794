"""The objects a launch creates beside its RayCluster, each owned by it so the garbage collector
deletes them with it: the Ray auth token Secret and the fabric-label ConfigMap.

Example:
    >>> owner_reference("demo", "1234")["kind"]
    'RayCluster'
    >>> token_secret("demo", "ml", token="abc")["data"]["auth_token"]
    'YWJj'
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from aiinfra.contract import CLUSTER_LABEL, MANAGED_BY, TOKEN_KEY, TOPOLOGY_KEY, topology_configmap_name
from aiinfra.k8s.raycluster import token_secret_name

RAYCLUSTER_API = "ray.io/v1"


def owner_reference(name: str, uid: str) -> dict[str, Any]:
    """An ownerReference to the RayCluster ``name`` with ``uid``."""
    return {"apiVersion": RAYCLUSTER_API, "kind": "RayCluster", "name": name, "uid": uid}


def _labels(name: str) -> dict[str, str]:
    return {MANAGED_BY: "aiinfra", CLUSTER_LABEL: name}


def token_secret(name: str, namespace: str, token: str | None = None) -> dict[str, Any]:
    """The Secret holding a new random Ray auth token (or ``token``) for cluster ``name``."""
    value = token if token is not None else secrets.token_urlsafe(32)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": token_secret_name(name), "namespace": namespace, "labels": _labels(name)},
        "type": "Opaque",
        "data": {TOKEN_KEY: base64.b64encode(value.encode()).decode()},
    }


def topology_configmap(name: str, namespace: str, table: dict[str, dict[str, str]], uid: str) -> dict[str, Any]:
    """The ConfigMap mapping each Kubernetes node of cluster ``name`` to its fabric labels, owned by it.

    Example:
        >>> topology_configmap("demo", "ml", {"n1": {"leaf": "a"}}, "u")["metadata"]["name"]
        'demo-topology'
    """
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": topology_configmap_name(name),
            "namespace": namespace,
            "labels": _labels(name),
            "ownerReferences": [owner_reference(name, uid)],
        },
        "data": {TOPOLOGY_KEY: json.dumps(table, indent=1, sort_keys=True)},
    }
