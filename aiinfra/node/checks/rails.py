"""Rail checks: each rail's HCA and port against the definition.

Example:
    >>> from aiinfra.definition import load_definition
    >>> from aiinfra.node.discovery import discover_node
    >>> from aiinfra.node.gpu import NoNvml
    >>> inv = discover_node("tests/fixtures/sysfs/a800-ib-degraded", NoNvml())
    >>> sorted({f.code for f in check_rails(inv, load_definition("clusters/a800-ib.yaml"), {})})
    ['port-down', 'rate-low']
"""

from __future__ import annotations

from collections.abc import Mapping

from aiinfra.definition.model import ClusterDefinition, LinkLayer, Rail
from aiinfra.findings import Finding, Severity
from aiinfra.node.checks import node_check
from aiinfra.node.discovery import NodeInventory
from aiinfra.node.gpudirect import gdr_reach
from aiinfra.node.pcie import PciDistance
from aiinfra.node.rdma import RdmaPort


@node_check("rails", order=10)
def check_rails(inv: NodeInventory, d: ClusterDefinition | None, environ: Mapping[str, str]) -> list[Finding]:
    """Each rail's HCA and port against the definition (state, rate, link layer, RoCE GID, PCIe affinity);
    without rails, every RDMA port that is down.

    Example:
        >>> from aiinfra.node.discovery import discover_node
        >>> from aiinfra.node.gpu import NoNvml
        >>> [f.device for f in check_rails(discover_node("tests/fixtures/sysfs/a800-ib-degraded", NoNvml()), None, {})]
        ['mlx5_3:1']
    """
    if d is None or not d.rails:
        return _check_unmanaged_ports(inv)
    return [f for rail in d.rails for f in _check_rail(inv, d, rail)]


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
        if dist is None or gdr_reach(dist) == "switch":
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
