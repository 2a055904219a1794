"""Node checks beyond the rails: GPUs, GPUDirect, the bootstrap interface, stray NCCL variables.

Part of :func:`aiinfra.node.checks.rails.check_node`, kept apart so each module stays readable.

Example:
    >>> from aiinfra.definition import load_definition
    >>> [f.code for f in check_environ({"NCCL_IB_DISABLE": "1"}, load_definition("clusters/a800-ib.yaml"))]
    ['stray-nccl-env']
"""

from __future__ import annotations

from collections.abc import Mapping

from aiinfra.definition.model import ClusterDefinition, GpuDirect
from aiinfra.findings import TRANSPORT_KNOBS, Finding, Severity
from aiinfra.node.data_ports import data_ports
from aiinfra.node.discovery import NodeInventory
from aiinfra.node.pcie import PciDistance

# NVLink 3/4 carry 25 GB/s per link and direction: A800 200 -> 8 links, A100 300 -> 12, H100 450 -> 18.
NVLINK_GB_S_PER_LINK = 25
_GDR_FIX = (
    "use the open kernel module with Linux >= 5.12 for DMA-BUF (GPU Operator driver.kernelModuleType=open), "
    "or load nvidia_peermem (`modprobe nvidia-peermem`; GPU Operator driver.rdma.enabled=true)"
)


def check_gpus(inv: NodeInventory, d: ClusterDefinition | None) -> list[Finding]:
    """GPU count, NVLink links up and the rails' GPUs against the definition (or, without one, socket placement).

    Example:
        >>> check_gpus(NodeInventory("/", (), (), {}, None, (), gpu_error="NVML unavailable"), None)[0].code
        'gpus-unknown'
    """
    if inv.gpu_error:
        return [Finding("gpus-unknown", "info", "nvml", inv.gpu_error, "GPU checks skipped; run on a GPU node")]
    out = []
    if d is not None and d.gpu is not None:
        out.extend(check_gpu_model(inv, d))
        if len(inv.gpus) != d.gpu.per_node:
            out.append(
                Finding(
                    "gpu-count",
                    "error",
                    "node",
                    f"{len(inv.gpus)} GPUs visible, the definition expects {d.gpu.per_node}",
                    "check `nvidia-smi -L` and the pod's nvidia.com/gpu request",
                )
            )
        want_links = round(d.gpu.nvlink_gb_s / NVLINK_GB_S_PER_LINK)
        for g in inv.gpus:
            if g.nvlinks and g.nvlinks_active < want_links:
                out.append(
                    Finding(
                        "nvlink-down",
                        "error",
                        f"GPU{g.index}",
                        f"{g.nvlinks_active} NVLink links up, {want_links} expected for {d.gpu.nvlink_gb_s:g} GB/s",
                        "`nvidia-smi nvlink -s -i <gpu>`; check Fabric Manager, then reset or service the GPU",
                    )
                )
        for rail in d.rails:
            for idx in rail.gpus:
                if inv.gpu(idx) is None and inv.gpus:
                    out.append(
                        Finding(
                            "gpu-missing",
                            "error",
                            f"GPU{idx}",
                            f"{rail.name} lists GPU {idx}, which NVML does not see",
                            "check `nvidia-smi -L` (a GPU off the bus shows Xid 79 in dmesg) or fix rails[].gpus",
                        )
                    )
    elif d is None:
        out.extend(_check_affinity_without_rails(inv))
        if inv.gpus and not inv.rdma:
            out.append(
                Finding(
                    "no-rdma",
                    "info",
                    "node",
                    "no RDMA device in /sys/class/infiniband: NCCL can only use sockets between nodes",
                    "fine for one node; for several, give the pod its rail resources (rdma/...) or use an RDMA node",
                )
            )
    return out


def gpu_model_matches(nvml_name: str, model: str, product: str) -> bool:
    """Whether NVML's device name is the definition's GPU: by the GPU feature discovery
    product label (the NVML name, spaces as dashes) or by the model without the vendor.

    Example:
        >>> gpu_model_matches("NVIDIA H100 80GB HBM3", "H100-SXM5-80GB", "NVIDIA-H100-80GB-HBM3")
        True
        >>> gpu_model_matches("NVIDIA H200", "A800-SXM4-80GB", "NVIDIA-A800-SXM4-80GB")
        False
    """
    name = nvml_name.strip()
    bare = name.removeprefix("NVIDIA ").strip()
    return name.replace(" ", "-").lower() == product.lower() or bare.lower() == model.lower()


def check_gpu_model(inv: NodeInventory, d: ClusterDefinition) -> list[Finding]:
    """The GPUs found are the model the definition declares (an H200 node is not an A800 one)."""
    assert d.gpu is not None
    wrong = sorted({g.name for g in inv.gpus if not gpu_model_matches(g.name, d.gpu.model, d.gpu.product)})
    if not wrong:
        return []
    return [
        Finding(
            "gpu-model",
            "error",
            "node",
            f"GPUs are {', '.join(wrong)}; the definition expects {d.gpu.model} "
            f"(nvidia.com/gpu.product={d.gpu.product})",
            "run on a node of this cluster, or check against the definition that describes this hardware",
        )
    ]


def _check_affinity_without_rails(inv: NodeInventory) -> list[Finding]:
    # Without a rail map, a GPU is misplaced when every data HCA is on the other socket.
    hcas = {p.hca for p in data_ports(None, inv)}
    out = []
    for g in inv.gpus:
        dists = [dist for h in hcas if (dist := inv.distance(g.index, h)) is not None]
        if dists and min(dists) is PciDistance.SYS:
            out.append(
                Finding(
                    "gpu-hca-affinity",
                    "warning",
                    f"GPU{g.index}",
                    f"every RDMA data port ({', '.join(sorted(hcas))}) is on the other CPU socket (SYS)",
                    "check `nvidia-smi topo -m`; put an HCA under the GPU's PCIe switch or socket",
                )
            )
    return out


def check_gpudirect(inv: NodeInventory, d: ClusterDefinition | None) -> list[Finding]:
    """An error when RDMA is in use but neither nvidia_peermem nor DMA-BUF is available.

    Example:
        >>> from aiinfra.node.discovery import GpuDirectSupport
        >>> check_gpudirect(NodeInventory("/", (), (), {}, GpuDirectSupport(False, False, None, None, None), ()), None)
        []
    """
    wants_rdma = bool(d.rails) if d is not None else any(p.active for dev in inv.rdma for p in dev.ports)
    if not wants_rdma or not inv.gpus or (d is not None and d.network.gpudirect == GpuDirect.OFF):
        return []
    s = inv.gpudirect
    if not s.available:
        return [
            Finding(
                "no-gpudirect",
                "error",
                "node",
                "no GPUDirect RDMA path: nvidia_peermem is not loaded and the driver is not DMA-BUF capable"
                + (f" ({'; '.join(s.notes)})" if s.notes else ""),
                _GDR_FIX,
            )
        ]
    if d is not None and d.network.gpudirect == GpuDirect.DMABUF and not s.dmabuf_capable:
        return [
            Finding(
                "gpudirect-mode",
                "warning",
                "node",
                "the definition asks for DMA-BUF; this node only has nvidia_peermem (" + "; ".join(s.notes) + ")",
                "switch the node to the open kernel module, or set network.gpudirect: peermem",
            )
        ]
    return []


def check_socket_ifname(inv: NodeInventory, d: ClusterDefinition | None) -> list[Finding]:
    """A warning when NCCL_SOCKET_IFNAME names an interface the node does not have.

    Example:
        >>> check_socket_ifname(NodeInventory("/", (), (), {}, None, ("eth0",)), None)
        []
    """
    ifname = d.network.socket_ifname if d is not None else "eth0"
    if not inv.net_interfaces or ifname in inv.net_interfaces:
        return []
    return [
        Finding(
            "socket-ifname-missing",
            "warning",
            ifname,
            f"NCCL_SOCKET_IFNAME={ifname} but the node has {', '.join(inv.net_interfaces)}",
            "set network.socket_ifname to the interface bootstrap traffic should use",
        )
    ]


def check_environ(environ: Mapping[str, str], d: ClusterDefinition | None) -> list[Finding]:
    """Transport-changing NCCL variables set in ``environ``; an error when one turns the rails off."""
    out = []
    for name in TRANSPORT_KNOBS:
        value = environ.get(name)
        if value is None:
            continue
        # Turning the network off on a node with rails is a guaranteed socket fallback.
        off = (name == "NCCL_IB_DISABLE" and value == "1") or (name == "NCCL_NET" and value.lower() == "socket")
        severity: Severity = "error" if off and d is not None and d.rails else "warning"
        out.append(
            Finding(
                "stray-nccl-env",
                severity,
                name,
                f"{name}={value} is set in this environment: it changes which transport NCCL may use",
                "unset it (image ENV, runtime_env or the job's command line) unless this is a deliberate experiment",
            )
        )
    return out
