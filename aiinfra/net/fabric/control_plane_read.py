"""Read level 1's :class:`~aiinfra.net.fabric.control_plane.ControlPlane` snapshot from the API server.

A handful of list calls whatever the node count (nodes by GPU label, the operators' workloads and
pods per namespace), plus one get per rendered custom resource and per rail's NAD.

Example:
    >>> from aiinfra.k8s.client import Kube                              # doctest: +SKIP
    >>> snap = read_control_plane(Kube(), d)                             # doctest: +SKIP
    >>> control_plane_findings(d, snap)                                  # doctest: +SKIP
    []
"""

from __future__ import annotations

from typing import Any

from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import AiinfraError
from aiinfra.k8s.client import Kube
from aiinfra.net.fabric.control_plane import (
    GPU_PRODUCT_LABEL,
    ControlPlane,
    GpuNode,
    ObjectKey,
    Workload,
    expected_objects,
    object_key,
)
from aiinfra.net.rail_networks import network_ref

NAD_API = "k8s.cni.cncf.io/v1"


def gpu_node_selector(d: ClusterDefinition) -> str:
    """The label selector of the definition's GPU nodes (set by GPU feature discovery)."""
    if d.gpu is None:
        raise AiinfraError(f"{d.source or d.name}: no gpu section: the fabric test needs GPU nodes")
    return f"{GPU_PRODUCT_LABEL}={d.gpu.product}"


def _workloads(kube: Kube, namespaces: list[str]) -> tuple[list[Workload], dict[str, list[str]]]:
    apps: Any = kube.client.AppsV1Api(kube.api)
    out: list[Workload] = []
    unready: dict[str, list[str]] = {}
    for ns in namespaces:
        for dep in apps.list_namespaced_deployment(ns).items:
            out.append(Workload("Deployment", ns, dep.metadata.name, dep.spec.replicas or 0,
                                (dep.status.available_replicas or 0) if dep.status else 0))
        for ds in apps.list_namespaced_daemon_set(ns).items:
            st = ds.status
            out.append(Workload("DaemonSet", ns, ds.metadata.name, st.desired_number_scheduled or 0 if st else 0,
                                st.number_available or 0 if st else 0))
        for pod in kube.core.list_namespaced_pod(ns).items:
            node = pod.spec.node_name
            conditions = (pod.status.conditions or []) if pod.status else []
            ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
            if node and not ready and (pod.status.phase if pod.status else None) != "Succeeded":
                unready.setdefault(node, []).append(f"{ns}/{pod.metadata.name}")
    return out, unready


def _objects(kube: Kube, d: ClusterDefinition) -> tuple[dict[ObjectKey, dict[str, Any]], set[str]]:
    present: dict[ObjectKey, dict[str, Any]] = {}
    unserved: set[str] = set()
    for obj in expected_objects(d):
        kind, ns, name = key = object_key(obj)
        try:
            got = kube.get(obj["apiVersion"], kind, name, ns or None)
        except AiinfraError as exc:
            if "does not serve" not in str(exc):
                raise
            unserved.add(kind)
            continue
        if got is not None:
            present[key] = dict(got.get("status") or {})
    return present, unserved


def _nads(kube: Kube, d: ClusterDefinition) -> set[tuple[str, str]]:
    found = set()
    for rail in d.rails:
        ns, name = network_ref(d, rail)
        try:
            if kube.get(NAD_API, "NetworkAttachmentDefinition", name, ns) is not None:
                found.add((ns, name))
        except AiinfraError as exc:
            if "does not serve" not in str(exc):
                raise
            return set()  # Multus's CRD is not installed: no rail has its NAD
    return found


def read_control_plane(kube: Kube, d: ClusterDefinition) -> ControlPlane:
    """Everything level 1 checks, read from the cluster of ``kube``."""
    selector = gpu_node_selector(d)
    workloads, unready = _workloads(kube, sorted({d.operators.network_namespace, d.operators.gpu_namespace}))
    objects, unserved = _objects(kube, d)
    nodes = {}
    for node in kube.core.list_node(label_selector=selector).items:
        name = node.metadata.name
        alloc = dict((node.status.allocatable or {}) if node.status else {})
        nodes[name] = GpuNode({k: str(v) for k, v in alloc.items()}, unready.get(name, []))
    return ControlPlane(workloads, objects, unserved, _nads(kube, d), nodes)
