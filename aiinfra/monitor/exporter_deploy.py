"""Render the exporter's Kubernetes objects and the upstream exporters' settings from a definition.

Pure: a definition in, dicts out (goldens under tests/golden/monitor/). Renders:

- a ConfigMap carrying the definition (the exporter reads it as ``AIINFRA_DEFINITION``);
- the aiinfra exporter DaemonSet on GPU nodes, least privilege: not privileged, no host
  network or PID namespace, non-root, read-only root filesystem, every capability dropped,
  /sys and /proc of the host mounted read-only; NVML through the NVIDIA container runtime
  (``runtimeClassName: nvidia`` with ``NVIDIA_VISIBLE_DEVICES=all``, no GPU is allocated);
- its Service and a ServiceMonitor (monitoring.coreos.com/v1) that labels series with the node;
- prometheus-node-exporter chart values enabling its infiniband, bonding and pcidevice collectors;
- (the dcgm-exporter counters file is :mod:`aiinfra.dcgm_exporter_config`: the GPU Operator release of the network
  setup carries it, so it lives below both).

Example:
    >>> from aiinfra.definition.loader import load_definition
    >>> objs = render_exporter(load_definition("clusters/a800-ib.yaml"))
    >>> [o["kind"] for o in objs]
    ['ConfigMap', 'DaemonSet', 'Service', 'ServiceMonitor']
"""

from __future__ import annotations

import json
from typing import Any

from aiinfra.contract import DEFINITION_ENV, MANAGED_BY, TEXTFILE_DIR
from aiinfra.definition.model import ClusterDefinition

PORT = 9835
NAME = "aiinfra-exporter"
GPU_NODE_LABEL = "nvidia.com/gpu.present"  # set by GPU Feature Discovery (GPU Operator)
DEFINITION_KEY = "definition.json"
_LABELS = {"app.kubernetes.io/name": NAME, MANAGED_BY: "aiinfra"}
_SELECTOR = {"app.kubernetes.io/name": NAME}


def _meta(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": dict(_LABELS)}


def _definition_configmap(d: ClusterDefinition, namespace: str) -> dict[str, Any]:
    doc = json.dumps(d.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(f"{NAME}-definition", namespace),
            "data": {DEFINITION_KEY: doc}}  # fmt: skip


def _container(image: str) -> dict[str, Any]:
    return {
        "name": "exporter",
        "image": image,
        "command": ["aiinfra-exporter", f"--listen=:{PORT}", "--path.sysfs=/host/sys", "--path.procfs=/host/proc"],
        "ports": [{"name": "metrics", "containerPort": PORT}],
        "env": [
            {
                "name": DEFINITION_ENV,
                "valueFrom": {"configMapKeyRef": {"name": f"{NAME}-definition", "key": DEFINITION_KEY}},
            },
            # The NVIDIA runtime injects libnvidia-ml and the device nodes; 'utility' is all NVML needs.
            {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"},
            {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "utility"},
        ],
        "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": {
            "privileged": False,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "capabilities": {"drop": ["ALL"]},
        },
        "readinessProbe": {
            "httpGet": {"path": "/metrics", "port": "metrics"},
            "periodSeconds": 30,
            "timeoutSeconds": 10,
        },
        "volumeMounts": [
            {"name": "sys", "mountPath": "/host/sys", "readOnly": True},
            {"name": "proc", "mountPath": "/host/proc", "readOnly": True},
        ],
    }


def _daemonset(image: str, namespace: str) -> dict[str, Any]:
    pod = {
        "nodeSelector": {GPU_NODE_LABEL: "true"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "runtimeClassName": "nvidia",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "priorityClassName": "system-node-critical",
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [_container(image)],
        "volumes": [
            {"name": "sys", "hostPath": {"path": "/sys", "type": "Directory"}},
            {"name": "proc", "hostPath": {"path": "/proc", "type": "Directory"}},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": _meta(NAME, namespace),
        "spec": {
            "selector": {"matchLabels": dict(_SELECTOR)},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
            "template": {"metadata": {"labels": dict(_LABELS)}, "spec": pod},
        },
    }


def _service(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(NAME, namespace),
        "spec": {"selector": dict(_SELECTOR), "clusterIP": "None",
                 "ports": [{"name": "metrics", "port": PORT, "targetPort": "metrics"}]},
    }  # fmt: skip


def _service_monitor(namespace: str) -> dict[str, Any]:
    node = {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node", "action": "replace"}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": _meta(NAME, namespace),
        "spec": {
            "selector": {"matchLabels": dict(_SELECTOR)},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{"port": "metrics", "interval": "15s", "scrapeTimeout": "10s", "relabelings": [node]}],
        },
    }


def render_exporter(
    d: ClusterDefinition, *, namespace: str = "monitoring", image: str | None = None
) -> list[dict[str, Any]]:
    """The exporter's objects for ``d``; ``image`` defaults to the definition's Ray image (which carries aiinfra).

    Example:
        >>> from aiinfra.definition.loader import load_definition
        >>> ds = render_exporter(load_definition("clusters/a800-ib.yaml"))[1]
        >>> ds["spec"]["template"]["spec"]["runtimeClassName"], ds["spec"]["template"]["spec"]["containers"][0]["image"]
        ('nvidia', 'rayproject/ray:2.52.1-py311-gpu')
    """
    img = image or (d.ray.image if d.ray is not None else "aiinfra:latest")
    return [_definition_configmap(d, namespace), _daemonset(img, namespace), _service(namespace),
            _service_monitor(namespace)]  # fmt: skip


# Helm replaces a list value whole: restating extraArgs drops the chart's own, so the filesystem
# collector's exclusions are restated here (tests compare the flags with the chart's defaults).
_PSEUDO_MOUNTS = ("dev", "proc", "sys", "run/containerd/.+", "var/lib/containerd/.+", "var/lib/docker/.+",
                  "var/lib/kubelet/.+")  # fmt: skip
_PSEUDO_FS_TYPES = ("autofs", "binfmt_misc", "bpf", "cgroup2?", "configfs", "debugfs", "devpts", "devtmpfs", "erofs",
                    "fusectl", "hugetlbfs", "iso9660", "mqueue", "nsfs", "overlay", "proc", "procfs", "pstore",
                    "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tracefs")  # fmt: skip
HOST_ROOT = "/host/root"
"""Where the prometheus-node-exporter chart mounts the host's root (``hostRootFsMount``, on by default)."""


def node_exporter_values(d: ClusterDefinition) -> dict[str, Any]:
    """prometheus-node-exporter chart values (kube-prometheus-stack: under ``prometheus-node-exporter``).

    The infiniband, bonding and pcidevice collectors (the last limited to the rails' HCAs), the
    textfile collector on the host's :data:`aiinfra.contract.TEXTFILE_DIR` (where ``aiinfra net test
    --metrics`` publishes its findings), and the chart's filesystem exclusions.

    Example:
        >>> from aiinfra.definition.loader import load_definition
        >>> node_exporter_values(load_definition("clusters/a800-ib.yaml"))["extraArgs"][:2]
        ['--collector.infiniband', '--collector.bonding']
    """
    args = ["--collector.infiniband", "--collector.bonding", "--collector.pcidevice"]
    if d.rails:
        # Only the rails' HCAs: management NICs with RDMA stay out of the rail dashboards.
        args.append("--collector.infiniband.device-include=^(" + "|".join(sorted({r.hca for r in d.rails})) + ")$")
    args += [
        f"--collector.textfile.directory={HOST_ROOT}{TEXTFILE_DIR}",
        "--collector.filesystem.mount-points-exclude=^/(" + "|".join(_PSEUDO_MOUNTS) + ")($|/)",
        "--collector.filesystem.fs-types-exclude=^(" + "|".join(_PSEUDO_FS_TYPES) + ")$",
    ]
    return {"extraArgs": args, "hostRootFsMount": {"enabled": True}}
