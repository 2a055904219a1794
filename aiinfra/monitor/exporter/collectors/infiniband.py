"""InfiniBand/RoCE ports: rate, width and speed against the definition, and where each HCA sits.

Reads ``<sysfs>/class/infiniband/<hca>/ports/<p>/{state,phys_state,rate,link_layer}``, the
HCA's PCI device (``device`` symlink, ``numa_node``) and its netdevs (``device/net/*/dev_port``).
node_exporter exports the state and rate; what it drops is the width and speed text of
``rate`` ("200 Gb/sec (4X HDR)"), the expected rate and the HCA -> netdev -> PCI -> NUMA map.

Example:
    >>> parse_rate("100 Gb/sec (2X HDR)")
    (100.0, 2, 'HDR')
"""

from __future__ import annotations

import re
from pathlib import Path

from aiinfra.monitor.exporter.metrics import Scrape, gauge
from aiinfra.monitor.exporter.registry import ExporterConfig, register

PORT_INFO = gauge(
    "aiinfra_infiniband_port_info",
    "HCA port placement: netdev, PCI address, NUMA node and rail.",
    "device", "port", "link_layer", "netdev", "pci_bus_id", "numa_node", "rail",
)  # fmt: skip
LINK_INFO = gauge(
    "aiinfra_infiniband_port_link_info",
    "Width and speed parsed from the rate file.",
    "device",
    "port",
    "width",
    "speed",
)
WIDTH = gauge("aiinfra_infiniband_port_width_lanes", "Active lanes of the port (4 for 4X).", "device", "port")
RATE = gauge("aiinfra_infiniband_port_rate_bytes_per_second", "Current port rate.", "device", "port")
EXPECTED = gauge(
    "aiinfra_infiniband_port_expected_rate_bytes_per_second",
    "Rate the cluster definition expects.",
    "device",
    "port",
    "rail",
)
DOWNSHIFT = gauge(
    "aiinfra_infiniband_port_downshift",
    "1 when an active rail port runs below its expected rate.",
    "device",
    "port",
    "rail",
)
ACTIVE = gauge("aiinfra_infiniband_port_active", "1 when state is ACTIVE and physical state LinkUp.", "device", "port")
PRESENT = gauge(
    "aiinfra_infiniband_rail_present", "0 when a rail's HCA port is missing from sysfs.", "rail", "device", "port"
)

_RATE = re.compile(r"^\s*([0-9.]+)\s*Gb/sec(?:\s*\((\d+)X\s*([A-Z]*)\))?")
_BYTES_PER_GBIT = 1e9 / 8


def parse_rate(text: str) -> tuple[float, int | None, str] | None:
    """(Gb/s, lanes, speed name) from a ``rate`` file; None when it does not parse."""
    m = _RATE.match(text)
    if m is None:
        return None
    return float(m.group(1)), int(m.group(2)) if m.group(2) else None, m.group(3) or ""


def _word(text: str | None) -> str:
    # sysfs writes '4: ACTIVE' and '5: LinkUp'; keep the word.
    return text.split(":", 1)[1].strip() if text and ":" in text else (text or "")


@register
class InfinibandCollector:
    name = "infiniband"

    def __init__(self, config: ExporterConfig) -> None:
        self.base = config.sysfs / "class" / "infiniband"
        d = config.definition
        self.rails = {(r.hca, r.port): (r.name, r.rate_gbps) for r in d.rails} if d else {}

    def collect(self, s: Scrape) -> None:
        seen: set[tuple[str, int]] = set()
        for hca in s.listdir(self.base):
            for port in self._ports(s, hca):
                seen.add((hca, port))
        for (hca, port), (rail, _) in sorted(self.rails.items()):
            s.add(PRESENT, 1 if (hca, port) in seen else 0, rail=rail, device=hca, port=str(port))

    def _ports(self, s: Scrape, hca: str) -> list[int]:
        dev = self.base / hca / "device"
        pci = dev.resolve().name if dev.exists() else ""
        numa = s.integer(dev / "numa_node", required=False) if pci else None
        netdevs: dict[int, str] = {}
        for nd in s.listdir(dev / "net"):
            dev_port = s.integer(dev / "net" / nd / "dev_port", required=False)
            netdevs.setdefault((dev_port or 0) + 1, nd)
        ports = [int(p) for p in s.listdir(self.base / hca / "ports", required=True) if p.isdigit()]
        for port in ports:
            self._port(s, hca, port, self.base / hca / "ports" / str(port), netdevs.get(port, ""), pci, numa)
        return ports

    def _port(self, s: Scrape, hca: str, port: int, d: Path, netdev: str, pci: str, numa: int | None) -> None:
        labels = {"device": hca, "port": str(port)}
        rail, expected_gbps = self.rails.get((hca, port), ("", None))
        link_layer = s.text(d / "link_layer") or ""
        numa_label = str(numa) if numa is not None and numa >= 0 else ""
        s.add(
            PORT_INFO,
            1,
            **labels,
            link_layer=link_layer,
            netdev=netdev,
            pci_bus_id=pci,
            numa_node=numa_label,
            rail=rail,
        )
        state, phys = _word(s.text(d / "state")), _word(s.text(d / "phys_state"))
        active = state == "ACTIVE" and phys == "LinkUp"
        s.add(ACTIVE, 1 if active else 0, **labels)
        raw = s.text(d / "rate")
        parsed = parse_rate(raw) if raw is not None else None
        if raw is not None and parsed is None:
            s.error("parse")
        if parsed is None:
            return
        gbps, lanes, speed = parsed
        s.add(RATE, gbps * _BYTES_PER_GBIT, **labels)
        s.add(LINK_INFO, 1, **labels, width=f"{lanes}X" if lanes else "", speed=speed)
        s.add(WIDTH, lanes, **labels)
        if expected_gbps is not None:
            s.add(EXPECTED, expected_gbps * _BYTES_PER_GBIT, **labels, rail=rail)
            s.add(DOWNSHIFT, 1 if active and gbps < expected_gbps else 0, **labels, rail=rail)

    def close(self) -> None:
        pass
