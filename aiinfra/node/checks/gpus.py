"""GPU checks: count, NVLink links up, the rails' GPUs present, socket placement without rails.

Example:
    >>> from aiinfra.node.discovery import NodeInventory
    >>> check_gpus(NodeInventory("/", (), (), {}, None, (), gpu_error="NVML unavailable"), None)[0].code
    'gpus-unknown'
"""

from __future__ import annotations

from collections.abc import Mapping

from aiinfra.definition.model import ClusterDefinition
from aiinfra.findings import Finding
from aiinfra.node.checks import node_check
from aiinfra.node.data_ports import data_ports
from aiinfra.node.discovery import NodeInventory
from aiinfra.node.pcie import PciDistance

# NVLink 3/4 carry 25 GB/s per link and direction: A800 200 -> 8 links, A100 300 -> 12, H100 450 -> 18.
NVLINK_GB_S_PER_LINK = 25


@node_check("gpus", order=20)
def _registered(inv: NodeInventory, d: ClusterDefinition | None, environ: Mapping[str, str]) -> list[Finding]:
    return check_gpus(inv, d)


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
