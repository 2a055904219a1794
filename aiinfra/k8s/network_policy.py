"""The NetworkPolicies that fence a Ray cluster's pods, rendered from its definition.

Ray's ports are an open door: whoever reaches GCS (6379), the dashboard and
job API (8265) or the Ray client (10001) can run code on every node. Two
policies, one for the head and one for the workers, admit on the pod network:

- the cluster's own pods, on every port (Ray's node manager, object manager and
  worker ports, 10002-19999 by default, and NCCL's socket bootstrap all use
  ports chosen at run time, so between its own pods nothing is narrowed);
- the declared clients (``ray.access.clients``), to the head's 8265 and 10001 only;
- the declared monitoring namespace, to Ray's metrics port 8080 only, on every pod.

Everything else is refused. ``kubectl port-forward`` (and aiinfra's own
forward to the dashboard) enters through the kubelet inside the pod's network
namespace, which these policies do not filter. The RDMA rails are secondary
networks outside the CNI's policy enforcement. A pure function of the
definition: golden files under tests/golden/networkpolicy/.

Example:
    >>> from aiinfra.definition import load_definition
    >>> head, workers = network_policies(load_definition("clusters/a800-ib.yaml"), "demo", "default")
    >>> head["metadata"]["name"], [p["port"] for p in head["spec"]["ingress"][1]["ports"]]
    ('demo-ray-head', [8265, 10001])
"""

from __future__ import annotations

from typing import Any

from aiinfra.contract import CLUSTER_LABEL, MANAGED_BY, ROLE_LABEL
from aiinfra.definition.model import ClusterDefinition, RayClient

GCS_PORT = 6379
DASHBOARD_PORT = 8265
CLIENT_PORT = 10001
METRICS_PORT = 8080
CLIENT_PORTS = (DASHBOARD_PORT, CLIENT_PORT)
"""What a client (a notebook, a job submitter) needs of the head; GCS is for Ray nodes only."""
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Set by the API server on every namespace: selects a namespace by its name."""


def network_policies(d: ClusterDefinition, name: str, namespace: str) -> list[dict[str, Any]]:
    """The head's and the workers' NetworkPolicy; [] when the definition opts out."""
    if d.ray is None or not d.ray.access.network_policy:
        return []
    access = d.ray.access
    own = {"from": [{"podSelector": {"matchLabels": {CLUSTER_LABEL: name}}}]}
    monitoring = []
    if access.monitoring_namespace:
        monitoring = [{
            "from": [_namespace_peer(access.monitoring_namespace)],
            "ports": [{"protocol": "TCP", "port": METRICS_PORT}],
        }]
    clients = []
    if access.clients:
        clients = [{
            "from": [_client_peer(c) for c in access.clients],
            "ports": [{"protocol": "TCP", "port": p} for p in CLIENT_PORTS],
        }]
    return [
        _policy(name, namespace, "head", [own, *clients, *monitoring]),
        _policy(name, namespace, "worker", [own, *monitoring]),
    ]


def network_policy_name(name: str, role: str) -> str:
    """Name of a cluster's policy for ``role`` ('head' or 'worker').

    Example:
        >>> network_policy_name("demo", "worker")
        'demo-ray-workers'
    """
    return f"{name}-ray-head" if role == "head" else f"{name}-ray-workers"


def _policy(name: str, namespace: str, role: str, ingress: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": network_policy_name(name, role),
            "namespace": namespace,
            "labels": {MANAGED_BY: "aiinfra", CLUSTER_LABEL: name},
        },
        "spec": {
            "podSelector": {"matchLabels": {CLUSTER_LABEL: name, ROLE_LABEL: role}},
            # Ingress only: pods still reach DNS, the image registry and the data they train on.
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }


def _namespace_peer(namespace: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}}


def _client_peer(client: RayClient) -> dict[str, Any]:
    # podSelector alone means "in the policy's own namespace"; {} selects every pod there.
    peer: dict[str, Any] = {} if client.namespace is None else _namespace_peer(client.namespace)
    if client.pod_labels or client.namespace is None:
        peer["podSelector"] = {"matchLabels": dict(sorted(client.pod_labels.items()))}
    return peer
