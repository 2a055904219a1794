"""GPU Operator values for GPUDirect RDMA next to the Network Operator.

DMA-BUF (the default) needs the open GPU kernel module and no MOFED, so the
values only pin ``driver.kernelModuleType: open``. The legacy nvidia-peermem
path sets ``driver.rdma.enabled`` (the driver pod's peermem sidecar) and, when
the NIC driver is the host's own rather than the operator's container,
``driver.rdma.useHostMofed``. The GPU Operator's Node Feature Discovery is off:
the Network Operator's is the cluster's only one (two of them fight). dcgm-exporter reads aiinfra's counters file
(:mod:`aiinfra.dcgm_exporter_config`, a ConfigMap the chart creates), which adds the health fields (XID, ECC,
row remap, NVLink errors) the monitoring's alerts use.

Example:
    >>> from aiinfra.definition import load_definition
    >>> gpu_operator_values(load_definition("clusters/a800-ib.yaml"))["driver"]["rdma"]
    {'enabled': True, 'useHostMofed': True}
"""

from __future__ import annotations

from typing import Any

from aiinfra.dcgm_exporter_config import dcgm_exporter_values
from aiinfra.definition.model import ClusterDefinition, GpuDirect
from aiinfra.definition.operators import NicDriver

# Every image the chart names by ``<component>.repository`` (from its values.yaml; a test checks the list).
IMAGE_COMPONENTS: dict[str, str] = {
    "validator": "nvcr.io/nvidia",
    "operator": "nvcr.io/nvidia",
    "driver": "nvcr.io/nvidia",
    "driver.manager": "nvcr.io/nvidia/cloud-native",
    "toolkit": "nvcr.io/nvidia/k8s",
    "devicePlugin": "nvcr.io/nvidia",
    "dcgm": "nvcr.io/nvidia/cloud-native",
    "dcgmExporter": "nvcr.io/nvidia/k8s",
    "gfd": "nvcr.io/nvidia",
    "migManager": "nvcr.io/nvidia/cloud-native",
    "nodeStatusExporter": "nvcr.io/nvidia",
    "gds": "nvcr.io/nvidia/cloud-native",
    "gdrcopy": "nvcr.io/nvidia/cloud-native",
    "vgpuManager.driverManager": "nvcr.io/nvidia/cloud-native",
    "vgpuDeviceManager": "nvcr.io/nvidia/cloud-native",
    "vfioManager": "nvcr.io/nvidia/cloud-native",
    "vfioManager.driverManager": "nvcr.io/nvidia/cloud-native",
    "sandboxDevicePlugin": "nvcr.io/nvidia",
    "kataSandboxDevicePlugin": "nvcr.io/nvidia/cloud-native",
    "ccManager": "nvcr.io/nvidia/cloud-native",
    "draDriver": "nvcr.io/nvidia",
}
# Components whose values take imagePullSecrets (a list of secret names).
PULL_SECRET_COMPONENTS = (
    "validator", "operator", "driver", "toolkit", "devicePlugin", "gfd", "migManager", "nodeStatusExporter",
    "gds", "gdrcopy", "vgpuManager", "vgpuDeviceManager", "vfioManager", "kataManager", "sandboxDevicePlugin",
    "kataSandboxDevicePlugin", "ccManager", "draDriver",
)  # fmt: skip


def _set(values: dict[str, Any], dotted: str, key: str, value: Any) -> None:
    node = values
    for part in dotted.split("."):
        node = node.setdefault(part, {})
    node[key] = value


def gpu_operator_values(d: ClusterDefinition) -> dict[str, Any]:
    """Helm values for the pinned gpu-operator chart."""
    ops = d.operators
    values: dict[str, Any] = {
        "nfd": {"enabled": False},
        "driver": {"rdma": {"enabled": False, "useHostMofed": False}},
        **dcgm_exporter_values(),
    }
    mode = d.network.gpudirect
    if mode is GpuDirect.DMABUF:
        values["driver"]["kernelModuleType"] = "open"
    elif mode is GpuDirect.PEERMEM:
        values["driver"]["rdma"] = {"enabled": True, "useHostMofed": ops.driver is NicDriver.HOST}
    if ops.registry:
        for component, upstream in IMAGE_COMPONENTS.items():
            _set(values, component, "repository", ops.image_repository(upstream))
    if ops.image_pull_secrets:
        for component in PULL_SECRET_COMPONENTS:
            _set(values, component, "imagePullSecrets", list(ops.image_pull_secrets))
    return values
