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
import contextlib
import logging
import os
import time
from typing import Any

from aiinfra.contract import CLUSTER_LABEL, MANAGED_BY, TOKEN_KEY
from aiinfra.definition.loader import definition_error
from aiinfra.definition.model import ClusterDefinition, definition_from_env
from aiinfra.errors import AiinfraError, ClusterNotFound, UsageError
from aiinfra.k8s.client import Kube, api_error
from aiinfra.k8s.network_policy import network_policies
from aiinfra.k8s.owned import owner_reference, token_secret, topology_configmap
from aiinfra.k8s.portforward import PortForward
from aiinfra.k8s.preflight import fit, node_rooms, pending_reasons, quantity
from aiinfra.k8s.raycluster import LaunchOptions, node_env_notice, raycluster, token_secret_name
from aiinfra.launch.protocol import ClusterStatus, NodeStatus
from aiinfra.launch.ray_state import check_client_ray, ray_nodes, served_ray_version

API = "ray.io/v1"
_OWNED_KINDS = (("v1", "Secret"), ("v1", "ConfigMap"), ("networking.k8s.io/v1", "NetworkPolicy"))
"""Kinds aiinfra creates next to a RayCluster, each owned by it and labelled with its name."""
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

    def find_running(self) -> tuple[KubeRayBackend, ClusterDefinition, int] | None:
        """(handle, definition, workers) of the RayCluster already running under this name, if any."""
        if self.kube.get(API, "RayCluster", self.name, self.namespace) is None:
            return None
        found = KubeRayBackend.attach(self.name, self.namespace, self.kube)
        return found, found.definition, int(found.object["spec"]["workerGroupSpecs"][0]["replicas"])

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
        self._check_client_ray()
        notice = node_env_notice(self.definition)
        if notice:
            log.warning("%s", notice)
        if self.preflight:
            self._preflight()
        # The RayCluster first, suspended (KubeRay makes no pods yet); then what it owns, so the
        # garbage collector removes those with it whatever happens next; then resume it.
        try:
            created = kube.apply({**self.object, "spec": {**self.object["spec"], "suspend": True}})
            for obj in self._owned_objects(created["metadata"]["uid"]):
                kube.apply(obj)
            kube.apply({**self.object, "spec": {**self.object["spec"], "suspend": False}})
        except BaseException:  # KeyboardInterrupt too: a failed launch leaves nothing behind
            with contextlib.suppress(Exception):
                self.delete(timeout=60)
            raise

    def _check_client_ray(self) -> None:
        """Refuse a client Ray that cannot talk to the image's; warn where only some paths work."""
        assert self.definition.ray is not None
        try:
            warning = check_client_ray(self.definition.ray.version, "this cluster")
        except UsageError as err:  # named where the user can fix it: the definition's ray.version
            raise definition_error(self.definition, [(("ray", "version"), str(err))]) from None
        if warning:
            log.warning("%s: %s", self.definition.source, warning)

    def served_ray_version(self) -> str | None:
        """The Ray version the head's dashboard reports; None where it cannot be reached."""
        try:
            url, headers = self.dashboard()
        except (OSError, AiinfraError):
            return None
        return served_ray_version(url, headers)

    def _owned_objects(self, uid: str) -> list[dict[str, Any]]:
        """The token Secret and the NetworkPolicies, each owned by the RayCluster ``uid``."""
        objects = network_policies(self.definition, self.name, self.namespace)
        if self.definition.ray and self.definition.ray.auth == "token":
            objects.insert(0, token_secret(self.name, self.namespace))
        owner = self._owner(uid)
        for obj in objects:
            obj["metadata"]["ownerReferences"] = [owner]
        return objects

    def _owner(self, uid: str) -> dict[str, Any]:
        # Deleted with the RayCluster by the garbage collector.
        return owner_reference(self.name, uid)

    def _preflight(self) -> None:
        group = self.object["spec"]["workerGroupSpecs"][0]
        replicas = int(group["replicas"])
        spec = group["template"]["spec"]
        limits = spec["containers"][0]["resources"]["limits"]
        request = {k: quantity(v) for k, v in limits.items()}
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
                reasons.extend(pending_reasons(self.kube, self.namespace, pod))
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
        served = self.served_ray_version()
        if served and self.definition.ray and served != self.definition.ray.version:
            log.warning(
                "the head runs Ray %s, the definition says %s (ray.version): fix ray.image or ray.version",
                served, self.definition.ray.version,
            )
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
        if obj is None:
            raise ClusterNotFound(f"RayCluster '{self.name}' disappeared while starting")
        self.kube.apply(topology_configmap(self.name, self.namespace, table, obj["metadata"]["uid"]))

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

    def delete(self, timeout: float = 120) -> None:
        if self._forward:
            self._forward.close()
            self._forward = None
        self.kube.delete(API, "RayCluster", self.name, self.namespace)
        # Owned objects go with it (foreground deletion); these deletes only make that immediate.
        for api, kind in _OWNED_KINDS:
            for obj in self._labelled(api, kind):
                self.kube.delete(api, kind, obj["metadata"]["name"], self.namespace)
        self.wait_deleted(timeout)

    def wait_deleted(self, timeout: float = 120) -> None:
        """Block until the RayCluster, its pods and every object aiinfra made for it are gone."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pods = self.kube.core.list_namespaced_pod(self.namespace, label_selector=f"ray.io/cluster={self.name}")
            left = [o for api, kind in _OWNED_KINDS for o in self._labelled(api, kind)]
            if not pods.items and not left and self.kube.get(API, "RayCluster", self.name, self.namespace) is None:
                return
            time.sleep(0.5)
        raise AiinfraError(f"RayCluster '{self.name}' still has pods or owned objects after {timeout:.0f}s")

    def _labelled(self, api: str, kind: str) -> list[dict[str, Any]]:
        selector = f"{MANAGED_BY}=aiinfra,{CLUSTER_LABEL}={self.name}"
        found = self.kube.resource(api, kind).get(namespace=self.namespace, label_selector=selector)
        return list(found.to_dict().get("items") or [])

    def _token(self) -> str | None:
        if not self.definition.ray or self.definition.ray.auth != "token":
            return None
        secret = self.kube.get("v1", "Secret", token_secret_name(self.name), self.namespace)
        data = (secret or {}).get("data") or {}
        return base64.b64decode(data[TOKEN_KEY]).decode() if TOKEN_KEY in data else None


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
