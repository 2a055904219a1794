"""The KubeRay RayCluster a cluster definition describes.

``raycluster(definition, options)`` is a pure function returning a plain
``ray.io/v1`` RayCluster dict: same input, same bytes, so every file in
``clusters/`` has a golden rendering under ``tests/golden/raycluster/``.

Example:
    >>> from aiinfra.definition import load_definition
    >>> rc = raycluster(load_definition("clusters/a800-ib.yaml"), LaunchOptions(name="demo", workers=2))
    >>> rc["spec"]["workerGroupSpecs"][0]["replicas"]
    2
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from aiinfra.contract import (
    CLUSTER_LABEL,
    DEFINITION_ENV,
    DEFINITION_LABEL,
    FABRIC_FAILED_KEY,
    K8S_NODE_LABEL,
    MANAGED_BY,
    NETWORKS_ANNOTATION,
    NODE_NAME_ENV,
    RAILS_RESOURCE,
    ROLE_LABEL,
    TOKEN_KEY,
    TOPOLOGY_DIR,
    topology_configmap_name,
)
from aiinfra.definition.loader import definition_error
from aiinfra.definition.model import ClusterDefinition, Ray
from aiinfra.errors import UsageError
from aiinfra.k8s.raycluster_pod import (
    NODE_ENV_EXPORT,
    RAY_METRICS_PORT,
    container_security,
    monitoring_env,
    node_env_notice,
    pod_security,
)
from aiinfra.k8s.raycluster_storage import storage_parts
from aiinfra.nccl.declared import as_dict, declared_env

__all__ = ["RAILS_RESOURCE", "LaunchOptions", "node_env_notice", "raycluster", "to_yaml", "token_secret_name"]


@dataclass(frozen=True)
class LaunchOptions:
    """What varies per launch; everything else comes from the definition."""

    name: str
    workers: int | None = None
    namespace: str | None = None
    image: str | None = None
    keep_within: str | None = None
    """A topology label key all workers must share (overrides topology.keep_within)."""
    nccl_debug: str | None = None


def token_secret_name(name: str) -> str:
    """Name of the Secret holding a cluster's Ray auth token.

    Example:
        >>> token_secret_name("demo")
        'demo-ray-token'
    """
    return f"{name}-ray-token"


def raycluster(d: ClusterDefinition, opts: LaunchOptions) -> dict[str, Any]:
    """Build the RayCluster object for ``d`` (a plain dict ready for server-side apply)."""
    if d.ray is None or d.gpu is None:
        # Located like the loader's own messages (file, line, field), not the bare file name.
        issue = f"'{d.backend}' has no Kubernetes RayCluster (needs gpu and ray)"
        raise definition_error(d, [(("backend",), issue)])
    ray = d.ray
    keep = opts.keep_within or d.topology.keep_within
    if keep is not None and keep not in d.topology.labels:
        raise UsageError(f"--keep-within '{keep}' is not one of {d.source}'s topology.labels {d.topology.labels}")
    replicas = ray.workers.replicas if opts.workers is None else opts.workers
    labels = {MANAGED_BY: "aiinfra", CLUSTER_LABEL: opts.name}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {
            "name": opts.name,
            "namespace": opts.namespace or ray.namespace,
            "labels": {**labels, DEFINITION_LABEL: d.name},
        },
        "spec": {
            "rayVersion": ray.version,
            "headGroupSpec": _head_group(d, ray, opts, labels),
            "workerGroupSpecs": [_worker_group(d, ray, opts, labels, replicas, keep)],
        },
    }


def _head_group(d: ClusterDefinition, ray: Ray, opts: LaunchOptions, labels: dict[str, str]) -> dict[str, Any]:
    head = ray.head
    storage = storage_parts(ray)
    resources = {"cpu": str(head.cpu), "memory": f"{head.memory_gib}Gi"}
    if head.gpus:
        resources["nvidia.com/gpu"] = str(head.gpus)
    container = {
        "name": "ray-head",
        "image": opts.image or ray.image,
        "resources": {"requests": resources, "limits": resources},
        "ports": [
            {"containerPort": 6379, "name": "gcs-server"},
            {"containerPort": 8265, "name": "dashboard"},
            {"containerPort": 10001, "name": "client"},
            {"containerPort": RAY_METRICS_PORT, "name": "metrics"},  # aiinfra's PodMonitor scrapes it by name
        ],
        "env": [
            *_auth_env(d, opts),
            {"name": DEFINITION_ENV, "value": _definition_json(d)},
            *monitoring_env(ray),
            *storage.env,
        ],
        # Job drivers run on the head and plan placement there.
        "volumeMounts": [_TOPOLOGY_MOUNT, *storage.mounts],
        "securityContext": container_security(ray, add=[]),
    }
    return {
        # The head schedules no GPU work unless the definition gives it GPUs.
        "rayStartParams": {"dashboard-host": "0.0.0.0", "num-gpus": str(head.gpus)},
        "template": {
            "metadata": {"labels": {**labels, ROLE_LABEL: "head"}},
            "spec": {
                **pod_security(ray),
                "containers": [container],
                "volumes": [_topology_volume(opts.name), *storage.volumes],
            },
        },
    }


def _worker_group(
    d: ClusterDefinition, ray: Ray, opts: LaunchOptions, labels: dict[str, str], replicas: int, keep: str | None
) -> dict[str, Any]:
    assert d.gpu is not None
    w = ray.workers
    spec: dict[str, Any] = {
        **pod_security(ray),
        "containers": [_worker_container(d, ray, opts)],
        "nodeSelector": {"nvidia.com/gpu.product": d.gpu.product},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        # NCCL's SHM transport and Ray's object store need far more than the 64 MiB default.
        "volumes": [
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{w.shm_gib}Gi"}},
            _topology_volume(opts.name),
            *storage_parts(ray).volumes,
        ],
    }
    affinity = _affinity(d, opts.name, keep)
    if affinity:
        spec["affinity"] = affinity
    metadata: dict[str, Any] = {"labels": {**labels, ROLE_LABEL: "worker"}}
    if d.rails:
        metadata["annotations"] = {NETWORKS_ANNOTATION: ",".join(r.network for r in d.rails)}
    start_resources = {f"accelerator_type:{d.gpu.ray_accelerator_type}": 1}
    if d.rails:
        start_resources[RAILS_RESOURCE] = len(d.rails)
    return {
        "groupName": w.group,
        "replicas": replicas,
        "minReplicas": replicas,
        "maxReplicas": replicas,
        "rayStartParams": {
            "num-gpus": str(w.gpus),
            # KubeRay pastes the value into a shell command line unquoted: quote the JSON for the shell.
            "resources": f"'{json.dumps(start_resources, sort_keys=True)}'",
        },
        "template": {"metadata": metadata, "spec": spec},
    }


def _worker_container(d: ClusterDefinition, ray: Ray, opts: LaunchOptions) -> dict[str, Any]:
    """The worker's container: GPUs and every rail's resource, the NCCL environment, memlock, IPC_LOCK."""
    w = ray.workers
    storage = storage_parts(ray)
    resources: dict[str, str] = {"cpu": str(w.cpu), "memory": f"{w.memory_gib}Gi", "nvidia.com/gpu": str(w.gpus)}
    for rail in d.rails:
        resources[rail.resource_name] = "1"
    env = [{"name": k, "value": v} for k, v in as_dict(declared_env(d)).items()]
    if opts.nccl_debug:
        env = [e for e in env if e["name"] != "NCCL_DEBUG"] + [{"name": "NCCL_DEBUG", "value": opts.nccl_debug}]
    return {
        "name": "ray-worker",
        "image": opts.image or ray.image,
        # KubeRay runs this before its own `ray start` (joined with &&): RDMA registers GPU
        # and host memory, which needs an unlimited memlock limit. Where the runtime's hard
        # limit forbids raising it, say so and start Ray anyway rather than never starting.
        "args": [
            "ulimit -l unlimited || echo 'aiinfra: cannot raise the memlock limit; RDMA memory "
            "registration may fail (container runtime LimitMEMLOCK)' >&2; "
            + (NODE_ENV_EXPORT if ray.image_has_aiinfra else "")
            # The Ray node carries its Kubernetes node's name, the key to its fabric labels.
            + f'export RAY_OVERRIDE_LABELS="{{\\"{K8S_NODE_LABEL}\\":\\"${NODE_NAME_ENV}\\"}}"'
        ],
        "resources": {"requests": resources, "limits": resources},
        # IPC_LOCK lets RDMA pin memory past the memlock limit; the one capability kept
        # (docs/security.md: why, and what Pod Security level a namespace needs for it).
        "securityContext": container_security(ray, add=["IPC_LOCK"]),
        "env": [
            *env,
            *_auth_env(d, opts),
            {"name": DEFINITION_ENV, "value": _definition_json(d)},
            # Lets rank maps name the Kubernetes node (and so its fabric labels) behind each Ray node.
            {"name": NODE_NAME_ENV, "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            *storage.env,
        ],
        "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}, _TOPOLOGY_MOUNT, *storage.mounts],
    }


_TOPOLOGY_MOUNT = {"name": "aiinfra-topology", "mountPath": TOPOLOGY_DIR, "readOnly": True}


def _topology_volume(name: str) -> dict[str, Any]:
    # Optional: the ConfigMap is written by launch() once the pods are placed.
    return {"name": "aiinfra-topology", "configMap": {"name": topology_configmap_name(name), "optional": True}}


def _affinity(d: ClusterDefinition, name: str, keep: str | None) -> dict[str, Any]:
    """Require the topology labels on the node and no fabric-test failure; keep all workers in one `keep` domain."""
    required = [{"key": key, "operator": "Exists"} for key in d.topology.labels]
    # A node `aiinfra net test --label` marked bad is never chosen (its --taint needs no rule here: workers
    # tolerate only the GPU taint).
    required.append({"key": FABRIC_FAILED_KEY, "operator": "DoesNotExist"})
    out: dict[str, Any] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": required}]}
        }
    }
    if keep:
        selector = {"matchLabels": {CLUSTER_LABEL: name, ROLE_LABEL: "worker"}}
        out["podAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": selector, "topologyKey": keep}]
        }
    return out


def _auth_env(d: ClusterDefinition, opts: LaunchOptions) -> list[dict[str, Any]]:
    """Token auth: the token is read from a Secret, never written into the RayCluster.

    The mode is always explicit: Ray's default changes between releases (2.59 turned it on for
    local clusters, later releases for all), and every node of a cluster must agree.
    """
    if d.ray is None:
        return []
    if d.ray.auth != "token":
        return [{"name": "RAY_AUTH_MODE", "value": "disabled"}]
    ref = {"secretKeyRef": {"name": token_secret_name(opts.name), "key": TOKEN_KEY}}
    return [{"name": "RAY_AUTH_MODE", "value": "token"}, {"name": "RAY_AUTH_TOKEN", "valueFrom": ref}]


def _definition_json(d: ClusterDefinition) -> str:
    # The in-cluster helpers (aiinfra.train.trainer, aiinfra.nccl.node_env) read the definition from here.
    return json.dumps(d.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        return True


def to_yaml(obj: object) -> str:
    """Kubernetes-style YAML: keys in the order built, block style, no anchors.

    Example:
        >>> to_yaml({"kind": "RayCluster"})
        'kind: RayCluster\\n'
    """
    return yaml.dump(obj, Dumper=_NoAliases, sort_keys=False, default_flow_style=False, width=120)
