"""Play the network operator's part in the simulator, so the fabric test's level 1 has something to read.

The real operator cannot run here (no NICs, no images): this applies the definition's rendered custom
resources, writes the ``status.state: ready`` the operator would, makes each rail's
NetworkAttachmentDefinition and runs an operator Deployment whose pod KWOK keeps Running. The rail
resources and GPUs are already advertised by the simulator's nodes. The CRDs must be served: start the
simulator with ``AIINFRA_UPSTREAM_MIRROR`` set (current CRDs, IPPool included).

Example:
    >>> play_network_operator(Kube(kubeconfig=cluster.kubeconfig), d)      # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Any

from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import LaunchTimeout
from aiinfra.k8s.client import Kube
from aiinfra.net.fabric.control_plane import expected_objects
from aiinfra.net.fabric.control_plane_read import NAD_API
from aiinfra.net.rail_networks import network_ref

OPERATOR_DEPLOYMENT = "network-operator"


def ensure_namespace(kube: Kube, name: str) -> None:
    """Create the namespace unless it exists."""
    try:
        kube.core.create_namespace({"metadata": {"name": name}})
    except kube.client.exceptions.ApiException as exc:
        if exc.status != 409:
            raise


def set_state(kube: Kube, obj: dict[str, Any], state: str) -> None:
    """Write ``status.state`` of a rendered custom resource, as its operator does."""
    group, version = obj["apiVersion"].split("/")
    plural = kube.resource(obj["apiVersion"], obj["kind"]).name
    ns, name = obj["metadata"].get("namespace"), obj["metadata"]["name"]
    body = {"status": {"state": state}}
    if ns:
        kube.custom.patch_namespaced_custom_object_status(group, version, ns, plural, name, body)
    else:
        kube.custom.patch_cluster_custom_object_status(group, version, plural, name, body)


def nad(d: ClusterDefinition, rail_index: int) -> dict[str, Any]:
    """The NetworkAttachmentDefinition the operator makes for a rail (an empty CNI config: nothing runs it)."""
    ns, name = network_ref(d, d.rails[rail_index])
    return {"apiVersion": NAD_API, "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": name, "namespace": ns}, "spec": {"config": "{}"}}


def _deployment(ns: str) -> dict[str, Any]:
    labels = {"app": OPERATOR_DEPLOYMENT}
    pod = {"containers": [{"name": "operator", "image": "nvcr.io/nvidia/cloud-native/network-operator"}],
           "nodeSelector": {"type": "kwok"}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": OPERATOR_DEPLOYMENT, "namespace": ns},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": pod}}}


def play_network_operator(kube: Kube, d: ClusterDefinition, timeout: float = 60.0) -> None:
    """Leave the cluster as a healthy network-operator rollout would; wait for the Deployment's pod."""
    ns = d.operators.network_namespace
    ensure_namespace(kube, ns)
    kube.apply(_deployment(ns))
    for obj in expected_objects(d):
        kube.apply(obj)
        if obj["kind"] != "IPPool":  # nv-ipam reports pool usage, not a state
            set_state(kube, obj, "ready")
    for i, rail in enumerate(d.rails):
        ensure_namespace(kube, network_ref(d, rail)[0])
        kube.apply(nad(d, i))
    apps: Any = kube.client.AppsV1Api(kube.api)
    deadline = time.monotonic() + timeout
    while (apps.read_namespaced_deployment(OPERATOR_DEPLOYMENT, ns).status.available_replicas or 0) < 1:
        if time.monotonic() > deadline:
            raise LaunchTimeout(f"the stand-in {OPERATOR_DEPLOYMENT} Deployment had no available pod in {timeout:.0f}s")
        time.sleep(0.5)


def remove_network_operator(kube: Kube, d: ClusterDefinition) -> None:
    """Undo :func:`play_network_operator` (NADs and namespaces are left)."""
    for obj in reversed(expected_objects(d)):
        kube.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))
    kube.delete("apps/v1", "Deployment", OPERATOR_DEPLOYMENT, d.operators.network_namespace)
