"""Level 1 of the fabric test: is the control plane in place, per node and per rail?

Checked against what the definition renders (:func:`aiinfra.net.operator_bundle.operator_bundle`):

- the operators' Deployments and DaemonSets available, and no operator pod on a GPU node not ready;
- the NicClusterPolicy present with ``status.state: ready``;
- every rendered custom resource present (IPPool, IPoIBNetwork / MacvlanNetwork / SriovNetwork /
  SriovIBNetwork, SriovNetworkNodePolicy) and, where the operator reports a state, ``ready``;
- each rail's NetworkAttachmentDefinition present where the worker pods look for it;
- every GPU node advertising each rail's resource and its GPUs (``status.allocatable``).

This module is pure: :mod:`aiinfra.net.fabric.control_plane_read` reads a :class:`ControlPlane`
snapshot from the API server, tests build one by hand.

Example:
    >>> from aiinfra.definition import load_definition
    >>> d = load_definition("clusters/a800-ib.yaml")
    >>> snap = healthy_snapshot(d, ["gpu-0"])
    >>> control_plane_findings(d, snap)
    []
    >>> snap.nodes["gpu-0"].allocatable["rdma/rail1"] = "0"
    >>> [(f.code, f.device) for f in control_plane_findings(d, snap)]
    [('rail-resource-missing', 'gpu-0:rail1')]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiinfra.definition.model import ClusterDefinition
from aiinfra.findings import Finding
from aiinfra.net.operator_bundle import operator_bundle
from aiinfra.net.operators import NCP_NAME
from aiinfra.net.rail_networks import network_ref

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
ObjectKey = tuple[str, str, str]
"""(kind, namespace or '', name) of a custom resource."""


@dataclass
class Workload:
    """A Deployment or DaemonSet of an operator: how many pods it wants and how many are available."""

    kind: str
    namespace: str
    name: str
    desired: int
    available: int


@dataclass
class GpuNode:
    """What a GPU node advertises, and its operator pods that are not ready."""

    allocatable: dict[str, str]
    unready_pods: list[str] = field(default_factory=list)


@dataclass
class ControlPlane:
    """A snapshot of everything level 1 looks at."""

    workloads: list[Workload]
    objects: dict[ObjectKey, dict[str, Any]]
    """Present custom resources, by key, with their ``status`` ({} when none)."""
    unserved: set[str]
    """Kinds the API server does not serve (their CRD is not installed)."""
    nads: set[tuple[str, str]]
    nodes: dict[str, GpuNode]


def object_key(obj: dict[str, Any]) -> ObjectKey:
    """The key of a rendered object.

    Example:
        >>> object_key({"kind": "IPPool", "metadata": {"name": "rail0", "namespace": "net"}})
        ('IPPool', 'net', 'rail0')
    """
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace") or "", meta["name"]


def expected_objects(d: ClusterDefinition) -> list[dict[str, Any]]:
    """The custom resources the definition renders: the policy, then per rail its pool and network."""
    return operator_bundle(d).objects


def _quantity(value: str | None) -> int:
    """Whole count of an extended resource ('63', '0', '' or None)."""
    try:
        return int(str(value or "0"))
    except ValueError:
        return 0


def _operators(d: ClusterDefinition, snap: ControlPlane) -> list[Finding]:
    out = []
    namespaces = {d.operators.network_namespace, d.operators.gpu_namespace}
    if not any(w.namespace == d.operators.network_namespace for w in snap.workloads):
        out.append(Finding("operator-absent", "error", d.operators.network_namespace,
                           "no network-operator Deployment or DaemonSet in its namespace",
                           "install the operators: aiinfra net deploy <cluster.yaml>"))
    for w in snap.workloads:
        if w.namespace in namespaces and w.available < w.desired:
            out.append(Finding("operator-unavailable", "error", f"{w.namespace}/{w.name}",
                               f"{w.kind} has {w.available} of {w.desired} pods available",
                               f"kubectl -n {w.namespace} describe {w.kind.lower()} {w.name}; read its pods' events"))
    return out


def _policy_and_networks(d: ClusterDefinition, snap: ControlPlane) -> list[Finding]:
    out = []
    for obj in expected_objects(d):
        kind, ns, name = key = object_key(obj)
        where = f"{kind} {ns + '/' if ns else ''}{name}"
        if kind in snap.unserved:
            out.append(Finding("crd-missing", "error", where, f"the API server does not serve {kind}",
                               "install the operator's CRDs: aiinfra net deploy <cluster.yaml>"))
            continue
        if key not in snap.objects:
            out.append(Finding("object-missing", "error", where, "not present",
                               "apply it: aiinfra net deploy <cluster.yaml> (render-operators shows it)"))
            continue
        state = (snap.objects[key] or {}).get("state")
        if state != "ready" and (state is not None or (kind == "NicClusterPolicy" and name == NCP_NAME)):
            reason = (snap.objects[key] or {}).get("reason")
            out.append(Finding("not-ready", "error", where, f"status.state is {state or 'unset'}"
                               + (f": {reason}" if reason else ""),
                               f"kubectl describe {kind.lower()} {name}; read the operator's log"))
    for rail in d.rails:
        ns, name = network_ref(d, rail)
        if (ns, name) not in snap.nads:
            out.append(Finding("nad-missing", "error", f"{ns}/{name}",
                               f"rail {rail.name}: no NetworkAttachmentDefinition where the worker pods look for it",
                               "the operator makes it from the rail's network CR: check that CR's status and the "
                               "operator's log"))
    return out


def _nodes(d: ClusterDefinition, snap: ControlPlane) -> list[Finding]:
    if not snap.nodes:
        product = d.gpu.product if d.gpu else "?"
        return [Finding("no-gpu-nodes", "error", f"{GPU_PRODUCT_LABEL}={product}", "no node carries the GPU label",
                        "is GPU feature discovery running (gpu-operator)? is gpu.product right in the definition?")]
    out = []
    want_gpus = d.gpu.per_node if d.gpu else 0
    for node, info in sorted(snap.nodes.items()):
        have = _quantity(info.allocatable.get(GPU_RESOURCE))
        if have < want_gpus:
            out.append(Finding("gpus-missing", "error", node, f"allocatable {GPU_RESOURCE} is {have}, expected "
                               f"{want_gpus}", "check the GPU Operator's device plugin pod and nvidia-smi there"))
        for rail in d.rails:
            if _quantity(info.allocatable.get(rail.resource_name)) < 1:
                out.append(Finding("rail-resource-missing", "error", f"{node}:{rail.name}",
                                   f"node does not advertise {rail.resource_name}",
                                   "check the rail's port is up and named as the definition says, then the device "
                                   "plugin pod's log on that node"))
        for pod in info.unready_pods:
            out.append(Finding("operator-pod-unready", "error", f"{node}", f"operator pod {pod} not ready",
                               f"kubectl describe pod {pod}"))
    return out


def control_plane_findings(d: ClusterDefinition, snap: ControlPlane) -> list[Finding]:
    """Every level-1 finding, cluster-wide ones first, then per node and rail."""
    return _operators(d, snap) + _policy_and_networks(d, snap) + _nodes(d, snap)


def healthy_snapshot(d: ClusterDefinition, nodes: list[str]) -> ControlPlane:
    """The snapshot of a cluster where everything is in place (for tests and examples)."""
    objects: dict[ObjectKey, dict[str, Any]] = {object_key(o): {"state": "ready"} for o in expected_objects(d)}
    alloc = {GPU_RESOURCE: str(d.gpu.per_node if d.gpu else 0), **{r.resource_name: "63" for r in d.rails}}
    return ControlPlane(
        [Workload("Deployment", d.operators.network_namespace, "network-operator", 1, 1)],
        objects, set(), {network_ref(d, r) for r in d.rails}, {n: GpuNode(dict(alloc)) for n in nodes},
    )


NODE_CODES = frozenset({"gpus-missing", "rail-resource-missing", "operator-pod-unready"})
"""Level-1 codes that condemn one node (its name leads the finding's device): --label/--taint mark it."""
