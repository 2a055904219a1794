"""What a place that runs Ray clusters must provide to a Cluster handle.

Two backends exist: :mod:`aiinfra.launch.local` (Ray processes on this machine,
the embedded default) and :mod:`aiinfra.launch.kuberay_backend` (a KubeRay
RayCluster). A :class:`aiinfra.launch.cluster.Cluster` talks to either through this
protocol, so notebooks and tests use the same calls on both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aiinfra.definition.model import ClusterDefinition


@dataclass(frozen=True)
class NodeStatus:
    """One Ray node (or worker pod) as seen by the backend."""

    name: str
    role: str
    state: str
    gpus: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class ClusterStatus:
    """A snapshot of a cluster: ready only when every worker has joined Ray."""

    name: str
    backend: str
    state: str
    ready: bool
    workers_wanted: int
    workers_joined: int
    dashboard_url: str | None = None
    nodes: list[NodeStatus] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    """Why the cluster is not ready yet (pending pods, scheduler events...)."""


class Backend(Protocol):
    """Creates, observes and deletes one named Ray cluster."""

    name: str

    def find_running(self) -> tuple[Backend, ClusterDefinition, int] | None:
        """(a handle on it, its definition, its worker count) when a cluster of this name runs already."""

    def create(self) -> None:
        """Start creating the cluster; raise if the name is taken or it cannot fit."""

    def status(self) -> ClusterStatus:
        """Current state, with reasons when not ready."""

    def after_ready(self) -> None:
        """Once ready: record what only the placed cluster knows (e.g. its nodes' fabric labels)."""

    def dashboard(self) -> tuple[str, dict[str, str]]:
        """(Ray dashboard URL reachable from here, HTTP headers such as the auth token)."""

    def delete(self) -> None:
        """Delete the cluster and everything created for it; idempotent."""
