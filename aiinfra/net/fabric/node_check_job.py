"""Level 2 of the fabric test as pods: one Job per GPU node running ``aiinfra node check --json``.

Pure: rendered from the definition, checked by golden files. Each Job's one pod is pinned to its node
(``nodeName``: a node that ``--taint`` marked bad is checked again too) and prints one JSON document
(``ok``, ``findings``, ``node``) that :mod:`aiinfra.net.fabric.node_level` reads from the pod's log.

Least privilege: no service-account token, non-root, no capabilities, read-only root filesystem,
seccomp RuntimeDefault, and the host's ``/sys`` and ``/proc`` mounted read-only under ``/host``
(a bind of the host's sysfs shows the host's network devices, so no host network is needed). NVML
comes from the NVIDIA container runtime with ``NVIDIA_DRIVER_CAPABILITIES=utility`` (query only) and no
GPU is requested, so the check runs beside training. A namespace enforcing the ``baseline`` or
``restricted`` Pod Security level refuses hostPath volumes: run the check in one labelled ``privileged``
for Pod Security admission (nothing here is privileged, but PSA knows no read-only hostPath level).

Example:
    >>> from aiinfra.definition import load_definition
    >>> job = node_check_job(load_definition("clusters/a800-ib.yaml"), "gpu-017", "fabric-test", "r1")
    >>> job["spec"]["template"]["spec"]["nodeName"], job["metadata"]["name"]
    ('gpu-017', 'aiinfra-node-check-r1-gpu-017')
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiinfra.contract import DEFINITION_ENV, FABRIC_FAILED_KEY, MANAGED_BY, ROLE_LABEL
from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import UsageError

NODE_CHECK_ROLE = "node-check"
RUN_LABEL = "aiinfra.io/fabric-test-run"
NODE_LABEL = "aiinfra.io/node"
HOST_ROOT = "/host"
DEADLINE_S = 300
"""A check that has not finished in 5 minutes is hung (a wedged driver): the Job is stopped."""
_NOBODY = 65534


def job_name(run: str, node: str) -> str:
    """A DNS-1123 name (<= 63) per run and node; long node names are shortened with a hash.

    Example:
        >>> job_name("r1", "a" * 80)[:30], len(job_name("r1", "a" * 80))
        ('aiinfra-node-check-r1-aaaaaaaa', 63)
    """
    name = f"aiinfra-node-check-{run}-{node}".lower()
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(node.encode()).hexdigest()[:8]
    return f"{name[:54].rstrip('-.')}-{digest}"


def _container(d: ClusterDefinition) -> dict[str, Any]:
    assert d.ray is not None
    definition = json.dumps(d.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return {
        "name": "node-check",
        "image": d.ray.image,
        "command": ["python", "-m", "aiinfra", "node", "check", "--json", "--sysfs-root", HOST_ROOT],
        "env": [
            {"name": DEFINITION_ENV, "value": definition},
            {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"},
            {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "utility"},
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "host-sys", "mountPath": f"{HOST_ROOT}/sys", "readOnly": True},
            {"name": "host-proc", "mountPath": f"{HOST_ROOT}/proc", "readOnly": True},
        ],
    }


def node_check_job(d: ClusterDefinition, node: str, namespace: str, run: str) -> dict[str, Any]:
    """The Job that checks ``node`` once and prints its JSON result."""
    if d.ray is None:
        raise UsageError(f"{d.source or d.name}: no ray section: the node-check pods use ray.image (it has aiinfra)")
    labels = {MANAGED_BY: "aiinfra", ROLE_LABEL: NODE_CHECK_ROLE, RUN_LABEL: run}
    pod_labels = {**labels, NODE_LABEL: node[:63]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(run, node), "namespace": namespace, "labels": pod_labels},
        "spec": {
            "backoffLimit": 0,  # one result per node: a failed check is a result, not a reason to retry
            "activeDeadlineSeconds": DEADLINE_S,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "nodeName": node,
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True, "runAsUser": d.ray.run_as_user or _NOBODY, "runAsGroup": _NOBODY,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "tolerations": [
                        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                        {"key": FABRIC_FAILED_KEY, "operator": "Exists", "effect": "NoSchedule"},
                    ],
                    "containers": [_container(d)],
                    "volumes": [
                        {"name": "host-sys", "hostPath": {"path": "/sys", "type": "Directory"}},
                        {"name": "host-proc", "hostPath": {"path": "/proc", "type": "Directory"}},
                    ],
                },
            },
        },
    }
