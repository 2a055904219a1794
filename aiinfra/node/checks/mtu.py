"""Rail and management MTUs: what each rail netdev carries against what its link can.

- RoCE: the RDMA path MTU (``active_mtu``) follows the netdev MTU. The kernel subtracts the
  RoCE v2 headers (GRH 40 + UDP 8 + BTH 12 + XRC 4 + AtomicETH 28 + ICRC 4 = 96 bytes, iboe_get_mtu in
  include/rdma/ib_verbs.h) and takes the largest IB MTU that fits, so a netdev MTU below 4192 gives
  an active_mtu below 4096; NVIDIA recommends 4200 (or 9000 jumbo). An error: peers with another
  active_mtu make NCCL fail with IBV_WC_LOC_LEN_ERR or hang (NCCL >= 2.20.3 no longer clamps to the
  receiver's MTU), and smaller packets cost bandwidth.
- InfiniBand (IPoIB): in datagram mode (``<netdev>/mode``; ConnectX-4 and later run enhanced IPoIB,
  datagram only) one IPoIB packet is one IB packet, so the netdev MTU can be at most the IB link MTU
  minus the 4-byte IPoIB header (RailHost.mtu_limit in aiinfra/net/inventory.py). sysfs does not show
  the port's link MTU; subnet managers set 4096 on HDR/NDR fabrics, so 4092 is expected. A warning:
  NCCL over verbs uses the port MTU, not IPoIB's, but TCP over the rail (bootstrap, storage) is slower.
- Rails of one link layer with different MTUs, and bond members whose MTU differs from the bond's:
  warnings.

Example:
    >>> roce_active_mtu(9000), roce_active_mtu(4200), roce_active_mtu(1500)
    (4096, 4096, 1024)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aiinfra.definition.model import ClusterDefinition, LinkLayer
from aiinfra.findings import Finding
from aiinfra.node.checks import node_check
from aiinfra.node.discovery import NodeInventory
from aiinfra.node.sysfs import read

ROCE_HEADERS = 40 + 8 + 12 + 4 + 28 + 4
IB_MTUS = (4096, 2048, 1024, 512, 256)
IB_LINK_MTU = 4096
IPOIB_HEADER = 4
ROCE_MIN_NETDEV_MTU = IB_LINK_MTU + ROCE_HEADERS


@node_check("mtu", order=61)
def _registered(inv: NodeInventory, d: ClusterDefinition | None, environ: Mapping[str, str]) -> list[Finding]:
    return check_mtu(inv, d)


def roce_active_mtu(netdev_mtu: int) -> int:
    """The RDMA path MTU a RoCE port gets from its netdev's MTU (0 when even 256 does not fit)."""
    return next((m for m in IB_MTUS if netdev_mtu - ROCE_HEADERS >= m), 0)


def check_mtu(inv: NodeInventory, d: ClusterDefinition | None) -> list[Finding]:
    """Each rail netdev's MTU against its link (needs the definition's rails), and bond members' MTUs.

    Example:
        >>> from aiinfra.definition import load_definition
        >>> from aiinfra.node.checks.example_nodes import fixture_node
        >>> check_mtu(fixture_node("roce-h100"), load_definition("clusters/roce.yaml"))
        []
    """
    net = Path(inv.sysfs_root) / "sys" / "class" / "net"
    out: list[Finding] = []
    by_layer: dict[LinkLayer, dict[str, int]] = {}
    for rail in d.rails if d is not None else []:
        dev = inv.device(rail.hca)
        port = dev.port(rail.port) if dev else None
        mtu = _mtu(net, port.netdev) if port and port.netdev else None
        if port is None or port.netdev is None or mtu is None:
            continue  # the rails check reports a missing HCA or port
        by_layer.setdefault(rail.link_layer, {})[port.netdev] = mtu
        where = f"{rail.hca}:{rail.port} ({port.netdev})"
        if rail.link_layer == LinkLayer.ETHERNET and mtu < ROCE_MIN_NETDEV_MTU:
            out.append(
                Finding(
                    "roce-mtu-low",
                    "error",
                    where,
                    f"MTU {mtu} gives RDMA active_mtu {roce_active_mtu(mtu)}, not 4096 (needs >= "
                    f"{ROCE_MIN_NETDEV_MTU}): peers with another active_mtu fail or hang",
                    f"set the rail's MTU to 9000 (or at least 4200) on the node and its switch ports, "
                    f"the same on every node (`ip link set {port.netdev} mtu 9000`, host netplan)",
                )
            )
        ipoib_limit = IB_LINK_MTU - IPOIB_HEADER
        datagram = read(net / port.netdev / "mode") != "connected"
        if rail.link_layer == LinkLayer.INFINIBAND and datagram and mtu < ipoib_limit:
            out.append(
                Finding(
                    "ipoib-mtu-low",
                    "warning",
                    where,
                    f"IPoIB MTU {mtu} in datagram mode is below {ipoib_limit} (4096 link MTU less the "
                    "IPoIB header): TCP over this rail sends smaller packets",
                    f"set the rail's MTU to {ipoib_limit} in the host network",
                )
            )
    for layer, mtus in sorted(by_layer.items()):
        if len(set(mtus.values())) > 1:
            shown = ", ".join(f"{n} {m}" for n, m in sorted(mtus.items()))
            out.append(Finding("rail-mtu-mixed", "warning", "rails",
                               f"{layer.value} rails have different MTUs ({shown})",
                               "give every rail the same MTU, on every node"))  # fmt: skip
    return out + _bond_members(net)


def _bond_members(net: Path) -> list[Finding]:
    out = []
    for bond in read(net / "bonding_masters").split():
        bond_mtu = _mtu(net, bond)
        for member in read(net / bond / "bonding" / "slaves").split():
            mtu = _mtu(net, member)
            if bond_mtu is not None and mtu is not None and mtu != bond_mtu:
                out.append(
                    Finding(
                        "bond-mtu-mismatch",
                        "warning",
                        f"{bond}/{member}",
                        f"member MTU {mtu} differs from {bond}'s {bond_mtu}",
                        f"set the MTU on {bond} only (members follow it), as on the switch",
                    )
                )
    return out


def _mtu(net: Path, netdev: str) -> int | None:
    text = read(net / netdev / "mtu")
    return int(text) if text.isdecimal() and len(text) < 7 else None
