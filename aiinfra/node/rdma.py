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
from aiinfra.node.sysfs import SysfsError, entries, numbered, read, resolve

_RATE = re.compile(r"^\s*([0-9]{1,6}(?:\.[0-9]{1,6})?)\s*Gb/sec")
_GID = re.compile(r"[0-9a-f]{4}(?::[0-9a-f]{4}){7}")
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
        raw = bytes.fromhex(self.gid[len(_V4_MAPPED) :].replace(":", ""))
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
    return [_device(root, entry) for entry in sorted(entries(base), key=lambda p: _natural(p.name))]


def _device(root: Path, entry: Path) -> RdmaDevice:
    resolve(entry)  # a class entry the kernel made always leads somewhere; a loop is a damaged tree
    dev_dir = entry / "device"
    loc = location_of(root, resolve(dev_dir)) if dev_dir.is_symlink() or dev_dir.exists() else None
    net_dir = dev_dir / "net"
    netdevs = [p.name for p in entries(net_dir)]
    by_port = {_read_int(net_dir / n / "dev_port", 0) + 1: n for n in netdevs}
    ports_dir = entry / "ports"
    numbers = numbered(ports_dir)
    ports = tuple(_port(ports_dir / str(n), n, by_port.get(n)) for n in numbers)
    return RdmaDevice(name=entry.name, pci_bus_id=loc.bdf if loc else None, ports=ports, netdevs=tuple(netdevs))


def _port(d: Path, number: int, netdev: str | None) -> RdmaPort:
    rate_text = _read(d / "rate")
    m = _RATE.match(rate_text)
    return RdmaPort(
        number=number,
        state=_after_colon(_read(d / "state")),
        phys_state=_after_colon(_read(d / "phys_state")),
        rate_gbps=float(m.group(1)) if m else None,
        rate_text=rate_text,
        link_layer=_read(d / "link_layer"),
        netdev=netdev,
        gids=tuple(_gids(d)),
    )


def _gids(port_dir: Path) -> list[Gid]:
    gids_dir = port_dir / "gids"
    out = []
    for idx in numbered(gids_dir):
        value = _read(gids_dir / str(idx))
        if not value or value == _ZERO_GID:
            continue  # unpopulated slot
        if not _GID.fullmatch(value):
            raise SysfsError(f"{gids_dir / str(idx)}: {value[:60]!r} is not a GID (eight groups of four hex digits)")
        # On IB ports, and on empty RoCE slots, reading the attributes fails with EINVAL.
        gid_type = _read(port_dir / "gid_attrs" / "types" / str(idx)) or None
        ndev = _read(port_dir / "gid_attrs" / "ndevs" / str(idx)) or None
        out.append(Gid(idx, value, gid_type, ndev))
    return out


_read = read


def _read_int(path: Path, default: int) -> int:
    text = _read(path)
    if not re.fullmatch(r"0x[0-9a-fA-F]{1,8}|[0-9]{1,9}", text):
        return default
    return int(text, 0)


def _after_colon(text: str) -> str:
    # sysfs writes '4: ACTIVE' and '5: LinkUp'; keep the word.
    return text.split(":", 1)[1].strip() if ":" in text else text


def _natural(name: str) -> list[tuple[int, int, str]]:
    # Tuples keep numbers and words from being compared with each other.
    return [(0, int(t), "") if t.isdecimal() and len(t) < 10 else (1, 0, t) for t in re.split(r"([0-9]+)", name)]
