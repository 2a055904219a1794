"""Render the exporter's Kubernetes objects and the upstream exporters' settings from a definition.

Pure: a definition in, dicts out (goldens under tests/golden/monitor/). Renders:

- a ConfigMap carrying the definition (the exporter reads it as ``AIINFRA_DEFINITION``);
- the aiinfra exporter DaemonSet on GPU nodes, least privilege: not privileged, no host
  network or PID namespace, non-root, read-only root filesystem, every capability dropped,
  /sys and /proc of the host mounted read-only; NVML through the NVIDIA container runtime
  (``runtimeClassName: nvidia`` with ``NVIDIA_VISIBLE_DEVICES=all``, no GPU is allocated);
- its Service and a ServiceMonitor (monitoring.coreos.com/v1) that labels series with the node;
- prometheus-node-exporter chart values enabling its infiniband, bonding and pcidevice collectors;
- a dcgm-exporter counters ConfigMap adding the fields its default leaves out (XID count, ECC,
  row remap incl. pending, NVLink errors, violations), and the GPU Operator values that use it.

Example:
    >>> from aiinfra.definition.loader import load_definition
    >>> objs = render_exporter(load_definition("clusters/a800-ib.yaml"))
    >>> [o["kind"] for o in objs]
    ['ConfigMap', 'DaemonSet', 'Service', 'ServiceMonitor']
"""

from __future__ import annotations

import json
from typing import Any

from aiinfra.contract import DEFINITION_ENV, MANAGED_BY
from aiinfra.definition.model import ClusterDefinition

PORT = 9835
NAME = "aiinfra-exporter"
DCGM_CONFIGMAP = "aiinfra-dcgm-metrics"
GPU_NODE_LABEL = "nvidia.com/gpu.present"  # set by GPU Feature Discovery (GPU Operator)
DEFINITION_KEY = "definition.json"
_LABELS = {"app.kubernetes.io/name": NAME, MANAGED_BY: "aiinfra"}
_SELECTOR = {"app.kubernetes.io/name": NAME}

# dcgm-exporter counters: its default set (etc/default-counters.csv) plus what it leaves out.
DCGM_COUNTERS = """\
# DCGM FIELD, Prometheus metric type, help message (rendered by aiinfra: dcgm-exporter defaults + health fields)
DCGM_FI_DEV_SM_CLOCK, gauge, SM clock frequency (in MHz).
DCGM_FI_DEV_MEM_CLOCK, gauge, Memory clock frequency (in MHz).
DCGM_FI_DEV_GPU_TEMP, gauge, GPU temperature (in C).
DCGM_FI_DEV_MEMORY_TEMP, gauge, Memory temperature (in C).
DCGM_FI_DEV_POWER_USAGE, gauge, Power draw (in W).
DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, counter, Total energy consumption since boot (in mJ).
DCGM_FI_DEV_PCIE_REPLAY_COUNTER, counter, Total number of PCIe retries.
DCGM_FI_DEV_GPU_UTIL, gauge, GPU utilization (in %).
DCGM_FI_DEV_MEM_COPY_UTIL, gauge, Memory utilization (in %).
DCGM_FI_DEV_FB_FREE, gauge, Framebuffer memory free (in MiB).
DCGM_FI_DEV_FB_USED, gauge, Framebuffer memory used (in MiB).
DCGM_FI_DEV_FB_RESERVED, gauge, Framebuffer memory reserved (in MiB).
DCGM_FI_PROF_GR_ENGINE_ACTIVE, gauge, Ratio of time the graphics engine is active.
DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, gauge, Ratio of cycles the tensor (HMMA) pipe is active.
DCGM_FI_PROF_DRAM_ACTIVE, gauge, Ratio of cycles the device memory interface is active sending or receiving data.
DCGM_FI_PROF_PCIE_TX_BYTES, counter, The number of bytes of active PCIe tx data including both header and payload.
DCGM_FI_PROF_PCIE_RX_BYTES, counter, The number of bytes of active PCIe rx data including both header and payload.
DCGM_FI_DRIVER_VERSION, label, Driver Version.
# Added by aiinfra: errors and health the default set leaves out.
DCGM_FI_DEV_XID_ERRORS, gauge, Value of the last XID error encountered.
DCGM_EXP_XID_ERRORS_COUNT, gauge, Count of XID errors within the user-specified time window.
DCGM_EXP_CLOCK_EVENTS_COUNT, gauge, Count of clock events within the user-specified time window.
DCGM_EXP_GPU_HEALTH_STATUS, gauge, GPU health status per DCGM health watch (0 pass, 10 warn, 20 fail).
DCGM_FI_DEV_CLOCKS_EVENT_REASONS, gauge, Current clock event (throttle) reasons bitmask.
DCGM_FI_DEV_ECC_SBE_VOL_TOTAL, counter, Total number of single-bit volatile ECC errors.
DCGM_FI_DEV_ECC_DBE_VOL_TOTAL, counter, Total number of double-bit volatile ECC errors.
DCGM_FI_DEV_ECC_SBE_AGG_TOTAL, counter, Total number of single-bit persistent ECC errors.
DCGM_FI_DEV_ECC_DBE_AGG_TOTAL, counter, Total number of double-bit persistent ECC errors.
DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS, counter, Number of remapped rows for uncorrectable errors.
DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS, counter, Number of remapped rows for correctable errors.
DCGM_FI_DEV_ROW_REMAP_FAILURE, gauge, Whether remapping of rows has failed.
DCGM_FI_DEV_ROW_REMAP_PENDING, gauge, Whether a row remap is pending (reset the GPU when drained).
DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL, counter, Total number of NVLink flow-control CRC errors.
DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL, counter, Total number of NVLink data CRC errors.
DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL, counter, Total number of NVLink retries.
DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL, counter, Total number of NVLink recovery errors.
DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL, counter, Total number of NVLink bandwidth counters for all lanes.
DCGM_FI_DEV_POWER_VIOLATION, counter, Throttling duration due to power constraints (in us).
DCGM_FI_DEV_THERMAL_VIOLATION, counter, Throttling duration due to thermal constraints (in us).
DCGM_FI_DEV_BOARD_LIMIT_VIOLATION, counter, Throttling duration due to board limit constraints (in us).
DCGM_FI_DEV_RELIABILITY_VIOLATION, counter, Throttling duration due to reliability constraints (in us).
"""


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


def dcgm_counters_configmap(namespace: str = "gpu-operator") -> dict[str, Any]:
    """The dcgm-exporter counters ConfigMap; it must live in the GPU Operator's namespace.

    Example:
        >>> dcgm_counters_configmap()["data"]["dcgm-metrics.csv"].count("DCGM_FI_DEV_ROW_REMAP_PENDING")
        1
    """
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(DCGM_CONFIGMAP, namespace),
            "data": {"dcgm-metrics.csv": DCGM_COUNTERS}}  # fmt: skip


def node_exporter_values(d: ClusterDefinition) -> dict[str, Any]:
    """prometheus-node-exporter chart values (kube-prometheus-stack: under ``prometheus-node-exporter``).

    Example:
        >>> from aiinfra.definition.loader import load_definition
        >>> node_exporter_values(load_definition("clusters/a800-ib.yaml"))["extraArgs"][:2]
        ['--collector.infiniband', '--collector.bonding']
    """
    args = ["--collector.infiniband", "--collector.bonding", "--collector.pcidevice"]
    if d.rails:
        # Only the rails' HCAs: management NICs with RDMA stay out of the rail dashboards.
        args.append("--collector.infiniband.device-include=^(" + "|".join(sorted({r.hca for r in d.rails})) + ")$")
    return {"extraArgs": args}


def gpu_operator_values() -> dict[str, Any]:
    """GPU Operator chart values pointing dcgm-exporter at the rendered counters ConfigMap.

    Example:
        >>> gpu_operator_values()["dcgmExporter"]["config"]["name"]
        'aiinfra-dcgm-metrics'
    """
    return {
        "dcgmExporter": {
            "config": {"name": DCGM_CONFIGMAP},
            # 5 s instead of 30 s: health fields are worth little 30 s late (ServiceMonitor scrapes every 15 s).
            "env": [{"name": "DCGM_EXPORTER_INTERVAL", "value": "5000"}],
        }
    }
