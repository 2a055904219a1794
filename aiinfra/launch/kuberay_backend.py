"""A Ray cluster on Kubernetes: a KubeRay RayCluster created, watched and deleted.

Ready means more than KubeRay's ``status.state == ready`` (which is known to
come early): every worker pod runs and, where the head's Ray API can be
reached, every worker has joined Ray with its GPUs. While waiting, pending
pods' scheduler messages become the reasons a timeout reports.

Example:
    >>> from aiinfra.k8s.raycluster import LaunchOptions
    >>> b = KubeRayBackend(definition, LaunchOptions(name="demo", workers=2))  # doctest: +SKIP
    >>> b.create(); b.status().ready                                           # doctest: +SKIP
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import time
from typing import Any

from aiinfra.contract import CLUSTER_LABEL, MANAGED_BY, TOKEN_KEY, TOPOLOGY_KEY, topology_configmap_name
from aiinfra.definition.model import ClusterDefinition, definition_from_env
from aiinfra.errors import AiinfraError, ClusterNotFound, UsageError
from aiinfra.k8s.client import Kube, api_error
from aiinfra.k8s.portforward import PortForward
from aiinfra.k8s.preflight import fit, node_rooms
from aiinfra.k8s.raycluster import LaunchOptions, raycluster, token_secret_name
from aiinfra.launch.protocol import ClusterStatus, NodeStatus
from aiinfra.launch.ray_state import ray_nodes

API = "ray.io/v1"
log = logging.getLogger(__name__)


class KubeRayBackend:
    """One RayCluster object and what KubeRay makes of it."""

    def __init__(
        self, definition: ClusterDefinition, opts: LaunchOptions, kube: Kube | None = None, preflight: bool = True
    ) -> None:
        self.definition = definition
        self.preflight = preflight
        self.opts = opts
        self.name = opts.name
        self._kube = kube
        self.object = raycluster(definition, opts)
        self.namespace: str = self.object["metadata"]["namespace"]
        self._forward: PortForward | None = None

    @property
    def kube(self) -> Kube:
        if self._kube is None:
            self._kube = Kube()
        return self._kube

    @classmethod
    def attach(cls, name: str, namespace: str | None = None, kube: Kube | None = None) -> KubeRayBackend:
        """Find an existing RayCluster made by aiinfra and rebuild its handle."""
        kube = kube or Kube()
        ns = namespace or kube.namespace
        obj = kube.get(API, "RayCluster", name, ns)
        if obj is None:
            raise ClusterNotFound(f"no RayCluster '{name}' in namespace '{ns}' (and no local cluster of that name)")
        env = obj["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0].get("env") or []
        raw = {e["name"]: e.get("value") or "" for e in env}
        d = definition_from_env(raw)
        if d is None:
            raise AiinfraError(f"RayCluster '{name}' was not made by aiinfra (no AIINFRA_DEFINITION on its head)")
        workers = obj["spec"]["workerGroupSpecs"][0].get("replicas")
        return cls(d, LaunchOptions(name=name, namespace=ns, workers=workers), kube)

    def create(self) -> None:
        kube = self.kube
        self.object["metadata"]["namespace"] = self.namespace
        try:
            kube.core.read_namespace(self.namespace)
        except kube.client.exceptions.ApiException as exc:
            if exc.status == 404:
                raise UsageError(f"namespace '{self.namespace}' does not exist") from None
            if exc.status != 403:  # may list pods there without reading the namespace itself
                raise api_error(exc, f"reading namespace {self.namespace}") from None
        if kube.get(API, "RayCluster", self.name, self.namespace) is not None:
            raise UsageError(
                f"a RayCluster named '{self.name}' already exists in '{self.namespace}': "
                f"aiinfra.connect('{self.name}') re-attaches, `aiinfra down {self.name}` removes it"
            )
        if self.preflight:
            self._preflight()
        if self.definition.ray and self.definition.ray.auth == "token":
            kube.apply(self._token_secret())
        kube.apply(self.object)

    def _preflight(self) -> None:
        group = self.object["spec"]["workerGroupSpecs"][0]
        replicas = int(group["replicas"])
        spec = group["template"]["spec"]
        limits = spec["containers"][0]["resources"]["limits"]
        request = {k: float(v) for k, v in limits.items() if k not in ("cpu", "memory")}
        try:
            rooms = node_rooms(self.kube, spec["nodeSelector"])
        except self.kube.client.exceptions.ApiException as exc:
            if exc.status == 403:  # namespace-scoped users often cannot list nodes: leave it to the scheduler
                return
            raise api_error(exc, "reading nodes for the pre-flight check") from None
        report = fit(rooms, request, replicas)
        if not report.fits:
            selector = ",".join(f"{k}={v}" for k, v in spec["nodeSelector"].items())
            raise AiinfraError(report.message(request, selector))

    def status(self) -> ClusterStatus:
        obj = self.kube.get(API, "RayCluster", self.name, self.namespace)
        wanted = int(self.object["spec"]["workerGroupSpecs"][0]["replicas"])
        if obj is None:
            return ClusterStatus(self.name, "kubernetes", "absent", False, wanted, 0)
        state = (obj.get("status") or {}).get("state", "pending")
        pods = self.kube.core.list_namespaced_pod(self.namespace, label_selector=f"ray.io/cluster={self.name}").items
        nodes, reasons = [], []
        for pod in pods:
            role = "head" if pod.metadata.labels.get("ray.io/node-type") == "head" else "worker"
            phase = pod.status.phase or "Pending"
            gpus = float((pod.spec.containers[0].resources.limits or {}).get("nvidia.com/gpu", 0))
            nodes.append(NodeStatus(pod.metadata.name, role, phase, gpus, pod.spec.node_name or ""))
            if phase != "Running":
                reasons.extend(self._pending_reasons(pod))
        running = [n for n in nodes if n.role == "worker" and n.state == "Running"]
        head_up = any(n.role == "head" and n.state == "Running" for n in nodes)
        joined = len(running)
        ray_joined = self._ray_workers_joined() if head_up and len(running) >= wanted else None
        if ray_joined is not None:
            joined = ray_joined
            if ray_joined < wanted:
                reasons.append(f"{ray_joined}/{wanted} workers have joined Ray with their GPUs")
        ready = state == "ready" and head_up and joined >= wanted
        if state != "ready" and not reasons:
            reasons.append(f"KubeRay reports state '{state}'")
        url = self._forward.url if self._forward else None
        return ClusterStatus(self.name, "kubernetes", state, ready, wanted, joined, url, nodes, sorted(set(reasons)))

    def after_ready(self) -> None:
        """Publish the fabric labels of the nodes the pods landed on (aiinfra.placement.fabric_labels)."""
        keys = self.definition.topology.labels
        if not keys:
            return
        obj = self.kube.get(API, "RayCluster", self.name, self.namespace)
        pods = self.kube.core.list_namespaced_pod(self.namespace, label_selector=f"ray.io/cluster={self.name}").items
        table: dict[str, dict[str, str]] = {}
        for node_name in sorted({p.spec.node_name for p in pods if p.spec.node_name}):
            try:
                labels = self.kube.core.read_node(node_name).metadata.labels or {}
            except self.kube.client.exceptions.ApiException as exc:
                if exc.status == 403:  # no right to read nodes: placement then goes without fabric labels
                    log.warning("cannot read node %s (forbidden): fabric labels not published", node_name)
                    return
                raise api_error(exc, f"reading node {node_name}") from None
            table[node_name] = {k: labels[k] for k in keys if k in labels}
        owner = {"apiVersion": API, "kind": "RayCluster", "name": self.name, "uid": (obj or {})["metadata"]["uid"]}
        self.kube.apply({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": topology_configmap_name(self.name),
                "namespace": self.namespace,
                "labels": {MANAGED_BY: "aiinfra", CLUSTER_LABEL: self.name},
                # Deleted with the RayCluster by the garbage collector.
                "ownerReferences": [owner],
            },
            "data": {TOPOLOGY_KEY: json.dumps(table, indent=1, sort_keys=True)},
        })

    def _pending_reasons(self, pod: Any) -> list[str]:
        out = []
        for cond in pod.status.conditions or []:
            if cond.type == "PodScheduled" and cond.status == "False" and cond.message:
                out.append(f"{pod.metadata.name}: {cond.message}")
        if not out:
            events = self.kube.core.list_namespaced_event(
                self.namespace, field_selector=f"involvedObject.name={pod.metadata.name}"
            ).items
            out = [f"{pod.metadata.name}: {e.reason}: {e.message}" for e in events if e.type == "Warning"][-2:]
        for cs in pod.status.container_statuses or []:
            waiting = cs.state and cs.state.waiting
            if waiting and waiting.reason not in (None, "ContainerCreating"):
                out.append(f"{pod.metadata.name}: {waiting.reason}: {waiting.message or ''}".rstrip(": "))
        return out

    def _ray_workers_joined(self) -> int | None:
        """Workers alive in Ray with all their GPUs; None where the head's API cannot be reached."""
        try:
            url, headers = self.dashboard()
        except (OSError, AiinfraError):
            return None
        rows = ray_nodes(url, headers)
        if rows is None:
            return None
        gpus = self.definition.ray.workers.gpus if self.definition.ray else 0
        return sum(
            1
            for n in rows
            if not n.get("is_head_node") and n.get("state") == "ALIVE"
            and float(n.get("resources_total", {}).get("GPU", 0)) >= gpus
        )

    def dashboard(self) -> tuple[str, dict[str, str]]:
        headers = {}
        token = self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if _in_cluster():
            return f"http://{self.name}-head-svc.{self.namespace}.svc:8265", headers
        if self._forward is None:
            pods = self.kube.core.list_namespaced_pod(
                self.namespace, label_selector=f"ray.io/cluster={self.name},ray.io/node-type=head"
            ).items
            running = [p for p in pods if p.status.phase == "Running"]
            if not running:
                raise AiinfraError(f"the head pod of '{self.name}' is not running yet")
            self._forward = PortForward(self.kube, self.namespace, running[0].metadata.name, 8265)
        return self._forward.url, headers

    def delete(self) -> None:
        if self._forward:
            self._forward.close()
            self._forward = None
        self.kube.delete(API, "RayCluster", self.name, self.namespace)
        if self.definition.ray and self.definition.ray.auth == "token":
            self.kube.delete("v1", "Secret", token_secret_name(self.name), self.namespace)
        self.wait_deleted()

    def wait_deleted(self, timeout: float = 120) -> None:
        """Block until the RayCluster and its pods are gone."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pods = self.kube.core.list_namespaced_pod(self.namespace, label_selector=f"ray.io/cluster={self.name}")
            if not pods.items and self.kube.get(API, "RayCluster", self.name, self.namespace) is None:
                return
            time.sleep(1)
        raise AiinfraError(f"RayCluster '{self.name}' still has pods after {timeout:.0f}s")

    def _token_secret(self) -> dict[str, Any]:
        token = base64.b64encode(secrets.token_urlsafe(32).encode()).decode()
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": token_secret_name(self.name),
                "namespace": self.namespace,
                "labels": {MANAGED_BY: "aiinfra", CLUSTER_LABEL: self.name},
            },
            "type": "Opaque",
            "data": {TOKEN_KEY: token},
        }

    def _token(self) -> str | None:
        if not self.definition.ray or self.definition.ray.auth != "token":
            return None
        secret = self.kube.get("v1", "Secret", token_secret_name(self.name), self.namespace)
        data = (secret or {}).get("data") or {}
        return base64.b64decode(data[TOKEN_KEY]).decode() if TOKEN_KEY in data else None


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
