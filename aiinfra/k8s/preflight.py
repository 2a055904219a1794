"""Will the workers fit? Checked against the nodes before anything is created.

A worker pod asks for CPU, memory, whole GPUs and one of each rail resource;
a node can take as many workers as its free allocatable allows for every
resource at once. Pods already bound to a node count against it, so the answer matches
what the scheduler would do, minus taints and affinities it alone knows.

Example:
    >>> nodes = [NodeRoom("n1", {"nvidia.com/gpu": 8, "rdma/rail0": 1})]
    >>> fit(nodes, {"nvidia.com/gpu": 8, "rdma/rail0": 1}, replicas=2).fits
    False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiinfra.errors import AiinfraError


@dataclass(frozen=True)
class NodeRoom:
    """Free allocatable of one node (allocatable minus what bound pods request)."""

    name: str
    free: dict[str, float]


@dataclass(frozen=True)
class FitReport:
    fits: bool
    capacity: int
    """How many workers the nodes can hold at once."""
    replicas: int
    per_node: dict[str, int]
    shortest: str
    """The resource that limits capacity most (e.g. 'nvidia.com/gpu')."""

    def message(self, request: dict[str, float], selector: str) -> str:
        want = ", ".join(_shown(k, v) for k, v in sorted(request.items()))
        nodes = ", ".join(f"{n}: {c}" for n, c in sorted(self.per_node.items())) or "none"
        return (
            f"{self.replicas} workers of [{want}] cannot fit: nodes with {selector} have room for "
            f"{self.capacity} ({nodes}); the scarcest resource is {self.shortest}"
        )


def fit(nodes: list[NodeRoom], request: dict[str, float], replicas: int) -> FitReport:
    """How many workers of ``request`` the nodes hold, and whether ``replicas`` fit."""
    per_node: dict[str, int] = {}
    short: dict[str, int] = {}
    for node in nodes:
        counts = {k: int(max(0.0, node.free.get(k, 0)) // v) for k, v in request.items() if v > 0}
        room = min(counts.values()) if counts else 0
        per_node[node.name] = room
        for k, c in counts.items():
            if c == room:
                short[k] = short.get(k, 0) + 1
    capacity = sum(per_node.values())
    shortest = max(short, key=lambda k: short[k]) if short else next(iter(request), "")
    return FitReport(capacity >= replicas, capacity, replicas, per_node, shortest)


def node_rooms(kube: Any, node_selector: dict[str, str]) -> list[NodeRoom]:
    """Free allocatable of the nodes matching ``node_selector``, from the API server."""
    selector = ",".join(f"{k}={v}" for k, v in node_selector.items())
    nodes = kube.core.list_node(label_selector=selector).items
    pods = kube.core.list_pod_for_all_namespaces(field_selector="status.phase!=Succeeded,status.phase!=Failed").items
    used: dict[str, dict[str, float]] = {}
    for pod in pods:
        node = pod.spec.node_name
        if not node:
            continue
        bucket = used.setdefault(node, {})
        for c in pod.spec.containers:
            for k, v in ((c.resources and c.resources.requests) or {}).items():
                bucket[k] = bucket.get(k, 0) + quantity(v)
    out = []
    for n in nodes:
        if n.spec.unschedulable:
            continue
        alloc = {k: quantity(v) for k, v in (n.status.allocatable or {}).items()}
        taken = used.get(n.metadata.name, {})
        # Allocatable can drop below what bound pods hold (a GPU fell off the bus): no room, not less.
        out.append(NodeRoom(n.metadata.name, {k: max(0.0, v - taken.get(k, 0)) for k, v in alloc.items()}))
    return out


def quantity(value: str | float) -> float:
    """A Kubernetes quantity as a number, read by the official client's parser.

    Example:
        >>> quantity("64Gi") / 2**30, quantity("500m")
        (64.0, 0.5)
    """
    from kubernetes.utils import parse_quantity

    try:
        return float(parse_quantity(value))
    except (ValueError, TypeError, ArithmeticError):
        raise AiinfraError(f"unreadable Kubernetes quantity {str(value)!r}") from None


def _shown(resource: str, amount: float) -> str:
    if resource in ("memory", "ephemeral-storage"):
        return f"{amount / 2**30:g}Gi {resource}"
    return f"{amount:g} {resource}"


def pending_reasons(kube: Any, namespace: str, pod: Any) -> list[str]:
    """Why ``pod`` is not running, in the scheduler's and kubelet's words: an unschedulable
    condition, else its last two Warning events; and a container stuck waiting (image pull, crash loop).

    Example:
        >>> pending_reasons(Kube(), "default", pod)  # doctest: +SKIP
        ['demo-worker-x: 0/4 nodes are available: 4 Insufficient nvidia.com/gpu.']
    """
    out = []
    for cond in pod.status.conditions or []:
        if cond.type == "PodScheduled" and cond.status == "False" and cond.message:
            out.append(f"{pod.metadata.name}: {cond.message}")
    if not out:
        events = kube.core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={pod.metadata.name}"
        ).items
        out = [f"{pod.metadata.name}: {e.reason}: {e.message}" for e in events if e.type == "Warning"][-2:]
    for cs in pod.status.container_statuses or []:
        waiting = cs.state and cs.state.waiting
        if waiting and waiting.reason not in (None, "ContainerCreating"):
            out.append(f"{pod.metadata.name}: {waiting.reason}: {waiting.message or ''}".rstrip(": "))
    return out
