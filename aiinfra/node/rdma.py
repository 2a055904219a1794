"""RDMA devices as sysfs shows them, under a configurable root.

Reads ``<root>/sys/class/infiniband/<hca>/`` the way ``ibstat`` and
``show_gids`` do: for each port its state, physical state, rate, link layer
and GID table (value, RoCE type, netdev), plus the HCA's PCI address and the
netdevs under ``device/net``. Nothing here needs libibverbs, so it works in
any container that sees /sys, and tests point ``root`` at a fixture tree.

Example:
    >>> from pathlib import Path
    >>> devs = discover_rdma(Path("tests/fixtures/sysfs/a800-ib"))
    >>> [(d.name, d.ports[0].link_layer, d.ports[0].rate_gbps) for d in devs][2]
    ('mlx5_2', 'InfiniBand', 200.0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from aiinfra.node.pcie import location_of
from aiinfra.node.sysfs import read_attr, read_int

_RATE = re.compile(r"^\s*([0-9.]+)\s*Gb/sec")
_ZERO_GID = "0000:0000:0000:0000:0000:0000:0000:0000"
_V4_MAPPED = "0000:0000:0000:0000:0000:ffff:"


@dataclass(frozen=True)
class Gid:
    """One populated GID table entry of a port."""

    index: int
    gid: str
    """As sysfs prints it: eight colon-separated groups of four hex digits."""
    type: str | None
    """'IB/RoCE v1' or 'RoCE v2' (gid_attrs/types); None where the kernel does not say."""
    ndev: str | None
    """The netdev the entry belongs to (gid_attrs/ndevs), RoCE only."""

    @property
    def ipv4(self) -> str | None:
        """The IPv4 address of an IPv4-mapped GID (::ffff:a.b.c.d), else None.

        Example:
            >>> Gid(3, "0000:0000:0000:0000:0000:ffff:0a00:0001", "RoCE v2", "ens1np0").ipv4
            '10.0.0.1'
        """
        if not self.gid.startswith(_V4_MAPPED):
            return None
        hi, lo = self.gid[len(_V4_MAPPED) :].split(":")
        raw = bytes.fromhex(hi + lo)
        return ".".join(str(b) for b in raw)

    @property
    def roce_v2(self) -> bool:
        return self.type == "RoCE v2"


@dataclass(frozen=True)
class RdmaPort:
    """One port of an HCA."""

    number: int
    state: str
    """'ACTIVE', 'DOWN', 'INIT', 'ARMED' (the text after 'N: ' in ports/N/state)."""
    phys_state: str
    """'LinkUp', 'Polling', 'Disabled', ... (ports/N/phys_state)."""
    rate_gbps: float | None
    rate_text: str
    """The whole rate line, e.g. '200 Gb/sec (4X HDR)'; it names the width and generation."""
    link_layer: str
    """'InfiniBand' or 'Ethernet'."""
    netdev: str | None = None
    gids: tuple[Gid, ...] = ()

    @property
    def active(self) -> bool:
        return self.state == "ACTIVE"

    def roce_v2_ipv4_gid(self) -> Gid | None:
        """The entry NCCL should use on RoCE: type RoCE v2 carrying an IPv4 address.

        The lowest such index wins, as in ``show_gids``; link-local (fe80::)
        and RoCE v1 entries are never routable across subnets.

        Example:
            >>> port = discover_rdma(Path("tests/fixtures/sysfs/roce-h100"))[0].ports[0]
            >>> port.roce_v2_ipv4_gid().index
            3
        """
        return next((g for g in self.gids if g.roce_v2 and g.ipv4), None)


@dataclass(frozen=True)
class RdmaDevice:
    """One RDMA device (an HCA, or one function of a dual-port card)."""

    name: str
    pci_bus_id: str | None
    ports: tuple[RdmaPort, ...]
    netdevs: tuple[str, ...] = field(default=())

    def port(self, number: int) -> RdmaPort | None:
        return next((p for p in self.ports if p.number == number), None)


def discover_rdma(root: Path = Path("/")) -> list[RdmaDevice]:
    """Every device under ``<root>/sys/class/infiniband``, sorted by name (mlx5_2 before mlx5_10).

    Returns an empty list when the directory is missing (no RDMA driver, or a
    container that was not given the devices).

    Example:
        >>> [(d.name, d.ports[0].state) for d in discover_rdma(Path("tests/fixtures/sysfs/a800-ib-degraded"))][3]
        ('mlx5_3', 'DOWN')
    """
    base = root / "sys" / "class" / "infiniband"
    if not base.is_dir():
        return []
    return [_device(root, entry) for entry in sorted(base.iterdir(), key=lambda p: _natural(p.name))]


def _device(root: Path, entry: Path) -> RdmaDevice:
    dev_dir = entry / "device"
    loc = location_of(root, dev_dir.resolve()) if dev_dir.exists() else None
    net_dir = dev_dir / "net"
    netdevs = sorted(p.name for p in net_dir.iterdir()) if net_dir.is_dir() else []
    by_port = {read_int(net_dir / n / "dev_port", 0) + 1: n for n in netdevs}
    ports_dir = entry / "ports"
    numbers = sorted(int(p.name) for p in ports_dir.iterdir() if p.name.isdigit()) if ports_dir.is_dir() else []
    ports = tuple(_port(ports_dir / str(n), n, by_port.get(n)) for n in numbers)
    return RdmaDevice(name=entry.name, pci_bus_id=loc.bdf if loc else None, ports=ports, netdevs=tuple(netdevs))


def _port(d: Path, number: int, netdev: str | None) -> RdmaPort:
    rate_text = read_attr(d / "rate")
    m = _RATE.match(rate_text)
    return RdmaPort(
        number=number,
        state=_after_colon(read_attr(d / "state")),
        phys_state=_after_colon(read_attr(d / "phys_state")),
        rate_gbps=float(m.group(1)) if m else None,
        rate_text=rate_text,
        link_layer=read_attr(d / "link_layer"),
        netdev=netdev,
        gids=tuple(_gids(d)),
    )


def _gids(port_dir: Path) -> list[Gid]:
    gids_dir = port_dir / "gids"
    if not gids_dir.is_dir():
        return []
    out = []
    for idx in sorted(int(p.name) for p in gids_dir.iterdir() if p.name.isdigit()):
        value = read_attr(gids_dir / str(idx))
        if not value or value == _ZERO_GID:
            continue  # unpopulated slot
        # On IB ports, and on empty RoCE slots, reading the attributes fails with EINVAL.
        gid_type = read_attr(port_dir / "gid_attrs" / "types" / str(idx)) or None
        ndev = read_attr(port_dir / "gid_attrs" / "ndevs" / str(idx)) or None
        out.append(Gid(idx, value, gid_type, ndev))
    return out




def _after_colon(text: str) -> str:
    # sysfs writes '4: ACTIVE' and '5: LinkUp'; keep the word.
    return text.split(":", 1)[1].strip() if ":" in text else text


def _natural(name: str) -> list[int | str]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
