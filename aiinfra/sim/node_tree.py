"""The simulated sysfs/procfs tree of one GPU node of a cluster definition (:func:`write_node_tree`).

A process-backed node of the simulator has no HCA, so its ``/sys`` and ``/proc`` are a folder written
from the definition with the parts of :mod:`aiinfra.sim.kernel_files` (which says the file formats):
each rail's HCA behind a PCIe switch with its GPUs, at the rail's PCI address, netdev and rate; on RoCE
the GID table with the pod's rail address (:func:`rail_ipv4`); the management bond; the NVIDIA driver
the definition's GPUDirect path needs; the worker process's limits and capabilities.

Example:
    >>> import tempfile
    >>> from aiinfra.definition import load_definition
    >>> root = write_node_tree(load_definition("clusters/roce.yaml"), 1, Path(tempfile.mkdtemp()))
    >>> (root / "sys/class/infiniband/mlx5_0/ports/1/gids/3").read_text().strip()
    '0000:0000:0000:0000:0000:ffff:0a78:000c'
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from aiinfra.definition.model import ClusterDefinition, GpuDirect, LinkLayer, Rail
from aiinfra.sim.kernel_files import ACTIVE, KERNEL, OPEN_570, PROPRIETARY_535, GidSpec, Tree, bond, switch_group

ROCE_MTU, IPOIB_MTU = 9000, 4092  # jumbo Ethernet; datagram IPoIB on a 4096 IB link MTU
_SPEEDS = {25: "1X EDR", 50: "2X HDR", 100: "4X EDR", 200: "4X HDR", 400: "4X NDR", 800: "4X XDR"}


def rail_ipv4(d: ClusterDefinition, rail_index: int, node_index: int) -> str:
    """The address the node's pod holds on a RoCE rail: host 11 + node index of the rail's pod subnet
    (10.200+rail.0.0/16 when the definition gives none).

    Example:
        >>> from aiinfra.definition import load_definition
        >>> rail_ipv4(load_definition("clusters/roce.yaml"), 2, 0)
        '10.120.2.11'
    """
    subnet = d.rails[rail_index].pod_subnet or ipaddress.IPv4Network(f"10.{200 + rail_index}.0.0/16")
    return str(subnet[11 + node_index])


def _rate(rail: Rail) -> str:
    gbps = int(rail.rate_gbps) if rail.rate_gbps == int(rail.rate_gbps) else rail.rate_gbps
    return f"{gbps} Gb/sec ({_SPEEDS.get(int(gbps), '4X')})"


def _gids(rail: Rail, ifname: str, ipv4: str, eui: str) -> list[GidSpec]:
    if rail.link_layer != LinkLayer.ETHERNET:
        return [(f"fe80:0000:0000:0000:{eui}", None, None)]
    a, b, c, e = (int(x) for x in ipv4.split("."))
    mapped = f"0000:0000:0000:0000:0000:ffff:{a:02x}{b:02x}:{c:02x}{e:02x}"
    link_local = f"fe80:0000:0000:0000:{eui}"
    # As the kernel fills the table: link-local v1/v2 first, then the IPv4-mapped pair once the address is up.
    return [(link_local, "IB/RoCE v1", ifname), (link_local, "RoCE v2", ifname),
            (mapped, "IB/RoCE v1", ifname), (mapped, "RoCE v2", ifname)]  # fmt: skip


def _rails(t: Tree, d: ClusterDefinition, node_index: int) -> None:
    gpus = d.gpu.per_node if d.gpu else 0
    groups = max(len(d.rails), (gpus + 1) // 2)
    for i in range(groups):
        rc, numa = 0x10 + 0x20 * i, 0 if i < max(1, groups // 2) else 1
        rail = d.rails[i] if i < len(d.rails) else None
        _, dev = switch_group(t, rc, numa, rail.pci if rail else None)
        if rail is None:
            continue
        bus = int(dev.rsplit("/", 1)[1].split(":")[1], 16)
        ethernet = rail.link_layer == LinkLayer.ETHERNET
        ifname = rail.netdev or (f"enp{bus}s0np0" if ethernet else f"ibp{bus}s0")
        t.netdev(dev, ifname, rail.port - 1, ROCE_MTU if ethernet else IPOIB_MTU, ipoib=not ethernet)
        port = {"state": ACTIVE[0], "phys_state": ACTIVE[1], "rate": _rate(rail), "link_layer": rail.link_layer.value}
        eui = f"a288:c2ff:fe{node_index % 256:02x}:{0x10 + i:04x}"
        t.hca(dev, rail.hca, port, _gids(rail, ifname, rail_ipv4(d, i, node_index), eui), rail.port)


def write_node_tree(d: ClusterDefinition, node_index: int, root: Path) -> Path:
    """Write node ``node_index``'s ``sys/`` and ``proc/`` under ``root`` (which must not hold a tree yet).

    The definition's rails each behind a PCIe switch with their GPUs (the HCA at the rail's ``pci``
    address, its netdev named as the rail says), every port ACTIVE at the rail's rate; RoCE ports carry
    the IPv4-mapped RoCE v2 GID of the pod's address (:func:`rail_ipv4`) at index 3. Management: the
    definition's bond over two 25G NICs, and the pod interface (``network.socket_ifname``). The driver
    is the open 570 module for DMA-BUF, else the proprietary 535 one with nvidia_peermem loaded.
    Returns ``root``.
    """
    t = Tree(root)
    _rails(t, d, node_index)
    members = []
    for fn, ifname in enumerate(("eno1", "eno2")):
        dev = t.pci(["pci0000:00", "0000:00:1c.0", f"0000:02:00.{fn}"], 0, "0x020000")
        t.netdev(dev, ifname, 0)
        members.append((ifname, dev))
    if d.network.management_bond:
        bond(t, members)
    if not (root / "sys/class/net" / d.network.socket_ifname).is_symlink():
        t.virtual_netdev(d.network.socket_ifname)
    if d.network.gpudirect == GpuDirect.PEERMEM:
        t.driver(PROPRIETARY_535, "535.129.03", KERNEL, peermem=True)
    else:
        t.driver(OPEN_570, "570.124.06", KERNEL, peermem=False)
    t.process()
    return root
