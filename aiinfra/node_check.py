"""Check a node's GPUs and RDMA ports against its cluster definition.

Each :class:`Finding` names the device, how bad it is and what to do. Errors
mean NCCL will run slower than the definition promises (or fall back to
sockets); warnings are worth a look; info is context.

Without a definition only what needs no expectation is checked: ports that
are down, GPU-HCA pairs on different sockets, a missing GPUDirect path.

Example:
    >>> import json
    >>> from pathlib import Path
    >>> from aiinfra.definition import load_definition
    >>> from aiinfra.discovery import discover_node
    >>> from aiinfra.discovery_gpu import RecordedNvml
    >>> inv = discover_node(Path("tests/fixtures/sysfs/a800-ib-degraded"),
    ...                     RecordedNvml(json.load(open("tests/fixtures/nvml/a800-8gpu.json"))))
    >>> [(f.code, f.device) for f in check_node(inv, load_definition("clusters/a800-ib.yaml")) if f.severity == "error"]
    [('port-down', 'mlx5_3:1'), ('rate-low', 'mlx5_4:1')]
"""

from __future__ import annotations

from aiinfra.definition import ClusterDefinition, GpuDirect, LinkLayer, Rail
from aiinfra.discovery import NodeInventory
from aiinfra.discovery_rdma import RdmaPort
from aiinfra.findings import Finding, Severity, by_severity, failed
from aiinfra.nccl import data_ports
from aiinfra.pcie import PciDistance

__all__ = ["Finding", "check_node", "failed"]

# NVLink 3/4 carry 25 GB/s per link and direction: A800 200 -> 8 links, A100 300 -> 12, H100 450 -> 18.
NVLINK_GB_S_PER_LINK = 25
_GDR_FIX = (
    "use the open kernel module with Linux >= 5.12 for DMA-BUF (GPU Operator driver.kernelModuleType=open), "
    "or load nvidia_peermem (`modprobe nvidia-peermem`; GPU Operator driver.rdma.enabled=true)"
)


def check_node(inv: NodeInventory, d: ClusterDefinition | None = None) -> list[Finding]:
    """All findings for this node, errors first.

    Example:
        >>> import json
        >>> from aiinfra.discovery import discover_node
        >>> from aiinfra.discovery_gpu import RecordedNvml
        >>> nvml = RecordedNvml(json.load(open("tests/fixtures/nvml/2xh200.json")))
        >>> [f.code for f in check_node(discover_node("tests/fixtures/sysfs/h200-vm", nvml))]
        ['no-rdma']
    """
    out: list[Finding] = []
    if d is not None and d.rails:
        for rail in d.rails:
            out.extend(_check_rail(inv, d, rail))
    else:
        out.extend(_check_unmanaged_ports(inv))
    out.extend(_check_gpus(inv, d))
    out.extend(_check_gpudirect(inv, d))
    out.extend(_check_socket_ifname(inv, d))
    return by_severity(out)


def _check_rail(inv: NodeInventory, d: ClusterDefinition, rail: Rail) -> list[Finding]:
    where = f"{rail.hca}:{rail.port}"
    dev = inv.device(rail.hca)
    if dev is None:
        present = ", ".join(x.name for x in inv.rdma) or "none"
        return [
            Finding(
                "rail-hca-missing",
                "error",
                rail.hca,
                f"{rail.name}'s HCA {rail.hca} is not in /sys/class/infiniband (present: {present})",
                "check the driver (`ibv_devinfo`, `dmesg | grep mlx5`) and, in a pod, that it requested "
                f"{rail.resource_name}; fix rails[].hca if the device was renamed",
            )
        ]
    port = dev.port(rail.port)
    if port is None:
        return [Finding("port-missing", "error", where, f"{rail.hca} has no port {rail.port}", "fix rails[].port")]
    out = []
    if port.link_layer != rail.link_layer.value:
        out.append(
            Finding(
                "link-layer-mismatch",
                "error",
                where,
                f"{rail.name} expects {rail.link_layer.value}, the port runs {port.link_layer or 'unknown'}",
                "set the port type with `mlxconfig -d <pci> set LINK_TYPE_P1=1` (IB) or =2 (Ethernet) and reboot, "
                "or fix rails[].link_layer",
            )
        )
    if not port.active:
        out.append(_port_down(where, port))
    elif port.rate_gbps is not None and port.rate_gbps < rail.rate_gbps:
        out.append(
            Finding(
                "rate-low",
                "error",
                where,
                f"{rail.name} runs at {port.rate_text}, the definition expects {rail.rate_gbps:g} Gb/s",
                "a lane or speed downtrained: reseat or replace the cable/transceiver, compare with "
                "`mlxlink -d <pci> -m` and the switch port, then check again",
            )
        )
    if port.active and rail.link_layer is LinkLayer.ETHERNET:
        out.extend(_check_roce_gid(d, rail, where, port))
    out.extend(_check_affinity(inv, rail))
    return out


def _port_down(where: str, port: RdmaPort) -> Finding:
    hint = {
        "Polling": "no link partner: check the cable and the switch port",
        "Disabled": "the port is administratively disabled (switch or `ibportstate`)",
        "LinkUp": "link is up but the subnet manager has not configured it: check opensm/UFM",
    }.get(port.phys_state, "check the cable, the switch port and the subnet manager")
    return Finding(
        "port-down",
        "error",
        where,
        f"port state {port.state or 'unknown'} (physical {port.phys_state or 'unknown'})",
        f"{hint}; `ibstat` shows the same state",
    )


def _check_roce_gid(d: ClusterDefinition, rail: Rail, where: str, port: RdmaPort) -> list[Finding]:
    gid = port.roce_v2_ipv4_gid()
    if gid is None:
        return [
            Finding(
                "roce-no-ipv4-gid",
                "error",
                where,
                "no RoCE v2 GID carries an IPv4 address: NCCL cannot pick a routable GID",
                f"give {port.netdev or 'the port netdev'} an IPv4 address (the network's IPAM) and check `show_gids`",
            )
        ]
    wanted = d.rail_gid_index(rail)
    if isinstance(wanted, int) and wanted != gid.index:
        return [
            Finding(
                "roce-gid-index",
                "error",
                where,
                f"gid_index {wanted} is not the RoCE v2 IPv4 entry; that is index {gid.index} ({gid.ipv4})",
                "set gid_index: auto in the definition, or the index `show_gids` lists for RoCE v2 + IPv4",
            )
        ]
    return []


def _check_affinity(inv: NodeInventory, rail: Rail) -> list[Finding]:
    out = []
    for g in rail.gpus:
        dist = inv.distance(g, rail.hca)
        if dist is None or dist <= PciDistance.PXB:
            continue
        severity: Severity = "error" if dist is PciDistance.SYS else "warning" if dist is PciDistance.NODE else "info"
        what = {
            PciDistance.SYS: "cross the CPU socket interconnect",
            PciDistance.NODE: "sit under different root complexes of one socket",
            PciDistance.PHB: "meet only at the root complex (common in VMs)",
        }[dist]
        out.append(
            Finding(
                "gpu-hca-affinity",
                severity,
                f"GPU{g}-{rail.hca}",
                f"GPU {g} and {rail.name}'s HCA {rail.hca} {what} ({dist.name}); GPUDirect RDMA is slow or off there",
                "map the rail to the GPUs behind the same PCIe switch (`nvidia-smi topo -m`), or fix rails[].gpus"
                if dist is not PciDistance.PHB
                else "aiinfra sets NCCL_NET_GDR_LEVEL=PHB; give the VM a NCCL_TOPO_FILE if the host is HGX",
            )
        )
    return out


def _check_unmanaged_ports(inv: NodeInventory) -> list[Finding]:
    return [
        Finding(
            "port-down",
            "warning",
            f"{dev.name}:{p.number}",
            f"port state {p.state or 'unknown'} (physical {p.phys_state or 'unknown'}); "
            "no cluster definition says whether it is a data rail",
            "pass --cluster to check the rails; if it is one, check the cable and the switch port",
        )
        for dev in inv.rdma
        for p in dev.ports
        if not p.active
    ]


def _check_gpus(inv: NodeInventory, d: ClusterDefinition | None) -> list[Finding]:
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


def _check_gpudirect(inv: NodeInventory, d: ClusterDefinition | None) -> list[Finding]:
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


def _check_socket_ifname(inv: NodeInventory, d: ClusterDefinition | None) -> list[Finding]:
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
