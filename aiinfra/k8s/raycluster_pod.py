"""The RayCluster's pod parts that stand on their own: hardening, the node-environment start command, monitoring.

Pure functions of the definition, used by :mod:`aiinfra.k8s.raycluster` for the head and the workers.

Example:
    >>> from aiinfra.definition import load_definition
    >>> d = load_definition("clusters/a800-ib.yaml")
    >>> container_security(d.ray, add=["IPC_LOCK"])["capabilities"]
    {'drop': ['ALL'], 'add': ['IPC_LOCK']}
"""

from __future__ import annotations

from typing import Any

from aiinfra.definition.model import ClusterDefinition, Ray
from aiinfra.nccl.declared import pinned_gid_index

RAY_METRICS_PORT = 8080
"""Ray's metrics export port (KubeRay's default, declared so the PodMonitor does not rely on it)."""
MONITORING_RELEASE = "kube-prometheus-stack"
"""The Helm release ``aiinfra monitor deploy`` installs (MonitorOptions.release): its Services' names."""


def monitoring_env(ray: Ray) -> list[dict[str, str]]:
    """Where Ray's dashboard finds Prometheus and Grafana, so its metrics views and Grafana links work."""
    ns = ray.access.monitoring_namespace
    if ns is None:
        return []
    base = f"{MONITORING_RELEASE}-{{}}.{ns}.svc"
    return [
        {"name": "RAY_PROMETHEUS_HOST", "value": f"http://{base.format('prometheus')}:9090"},
        {"name": "RAY_GRAFANA_HOST", "value": f"http://{base.format('grafana')}:80"},
    ]


# The node-refined NCCL environment (aiinfra.nccl.node_env, from this node's sysfs) exported before
# KubeRay's `ray start`, so every Ray worker process inherits it, plain scripts included. Should the
# image lack aiinfra after all, the pod log says so and Ray starts with the declared environment.
NODE_ENV_EXPORT = (
    'if NODE_NCCL_ENV=$(python -m aiinfra nccl env --export); then eval "$NODE_NCCL_ENV"; '
    "else echo 'aiinfra: node NCCL environment not exported (is aiinfra in the image? ray.image_has_aiinfra); "
    "workers keep the declared one' >&2; fi; "
)


def node_env_notice(d: ClusterDefinition) -> str | None:
    """What launch says when the image lacks aiinfra (``ray.image_has_aiinfra: false``), else None.

    Example:
        >>> from aiinfra.definition import load_definition
        >>> d = load_definition("clusters/roce.yaml")
        >>> node_env_notice(d) is None
        True
        >>> print(node_env_notice(d.model_copy(update={"ray": d.ray.model_copy(update={"image_has_aiinfra": False})})))
        ... # doctest: +ELLIPSIS
        the image ... has no aiinfra (ray.image_has_aiinfra: false): workers start with the declared NCCL ...
    """
    if d.ray is None or d.ray.image_has_aiinfra:
        return None
    lost = "rails found ACTIVE on each node (NCCL_IB_HCA), GPUDirect level"
    if any(r.link_layer == "Ethernet" for r in d.rails) and pinned_gid_index(d) is None:
        lost = "NCCL_IB_GID_INDEX (gid_index auto), " + lost
    return (
        f"the image {d.ray.image} has no aiinfra (ray.image_has_aiinfra: false): workers start with the declared "
        f"NCCL environment only; scripts that do not use aiinfra.train get no node-refined {lost}. "
        "Install aiinfra in the image and set ray.image_has_aiinfra: true"
    )


def pod_security(ray: Ray) -> dict[str, Any]:
    """Pod-level hardening: no API token (nothing in the pods calls the API server), seccomp, non-root."""
    context: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}
    if ray.run_as_user is not None:
        # A numeric uid: the kubelet cannot check runAsNonRoot against the image's named user "ray".
        context.update({"runAsNonRoot": True, "runAsUser": ray.run_as_user, "runAsGroup": _RAY_GID})
    return {"automountServiceAccountToken": False, "securityContext": context}


_RAY_GID = 100
"""Group of the rayproject/ray images' user (ray:users), which owns its home and conda env."""


def container_security(ray: Ray, add: list[str]) -> dict[str, Any]:
    capabilities: dict[str, list[str]] = {"drop": ["ALL"]}
    if add:
        capabilities["add"] = add
    return {"allowPrivilegeEscalation": False, "capabilities": capabilities}
