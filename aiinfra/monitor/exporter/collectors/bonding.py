"""802.3ad state per bond member from ``<procfs>/net/bonding/<bond>``, which node_exporter lacks.

node_exporter counts members with MII up; a member can be MII up and still carry no
traffic because LACP put it in another aggregator (the switch ports are not in one
LAG) or found no partner. This reads the kernel's bonding report (bond_procfs.c):
the active aggregator, each member's aggregator ID, partner MAC, churn state and counts.

Example:
    >>> bond, slaves = parse_bonding("Bonding Mode: IEEE 802.3ad Dynamic link aggregation\\n"
    ...     "Active Aggregator Info:\\n\\tAggregator ID: 1\\n\\nSlave Interface: eth1\\nAggregator ID: 2\\n")
    >>> bond["Bonding Mode"], bond["Active Aggregator Info/Aggregator ID"], slaves[0]["Aggregator ID"]
    ('IEEE 802.3ad Dynamic link aggregation', '1', '2')
"""

from __future__ import annotations

from aiinfra.monitor.exporter.metrics import Scrape, counter, gauge
from aiinfra.monitor.exporter.registry import ExporterConfig, register

INFO = gauge("aiinfra_bond_info", "Bond configuration.", "bond", "mode", "lacp_rate", "xmit_hash_policy")
PRESENT = gauge("aiinfra_bond_present", "0 when the definition's management bond is missing.", "bond")
ACTIVE_AGG = gauge("aiinfra_bond_active_aggregator_id", "Aggregator ID of the active aggregator.", "bond")
PARTNER_ZERO = gauge("aiinfra_bond_partner_mac_zero", "1 when the active aggregator has no LACP partner.", "bond")
IN_ACTIVE = gauge("aiinfra_bond_slaves_in_active_aggregator", "Members in the active aggregator.", "bond")
MII = gauge("aiinfra_bond_slave_mii_up", "1 when the member's MII status is up.", "bond", "slave")
AGG = gauge("aiinfra_bond_slave_aggregator_id", "The member's aggregator ID.", "bond", "slave")
MISMATCH = gauge(
    "aiinfra_bond_slave_aggregator_mismatch", "1 when the member is not in the active aggregator.", "bond", "slave"
)
SLAVE_PARTNER_ZERO = gauge(
    "aiinfra_bond_slave_partner_mac_zero", "1 when the member's LACP partner MAC is all zero.", "bond", "slave"
)
CHURNED = gauge("aiinfra_bond_slave_churned", "1 when the churn state is 'churned'.", "bond", "slave", "side")
CHURN_EVENTS = counter("aiinfra_bond_slave_churn_events_total", "Actor/Partner Churned Count.", "bond", "slave", "side")
LINK_FAILURES = counter("aiinfra_bond_slave_link_failures_total", "Link Failure Count of the member.", "bond", "slave")

_ZERO_MAC = "00:00:00:00:00:00"
_SECTIONS = ("Active Aggregator Info", "details actor lacp pdu", "details partner lacp pdu")


def parse_bonding(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The bond's 'key: value' lines and one dict per 'Slave Interface' block.

    Lines under a section header ('Active Aggregator Info:', 'details partner lacp pdu:')
    are keyed 'Section/key'.
    """
    bond: dict[str, str] = {}
    slaves: list[dict[str, str]] = []
    current, section = bond, ""
    for line in text.splitlines():
        if not line.strip():
            section = ""
            continue
        key, sep, value = line.strip().partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "Slave Interface":
            current, section = {"Slave Interface": value}, ""
            slaves.append(current)
        elif key in _SECTIONS and not value:
            section = key
        elif line[:1] in (" ", "\t") and section:
            current[f"{section}/{key}"] = value
        else:
            section = ""
            current[key] = value
    return bond, slaves


def _num(s: Scrape, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        s.error("parse")
        return None


@register
class BondingCollector:
    name = "bonding"

    def __init__(self, config: ExporterConfig) -> None:
        # In a pod with the host's /proc mounted, <procfs>/net is the pod's own network namespace;
        # <procfs>/1/net is the host's (PID 1's), readable without privileges. On a host both agree.
        host_net = config.procfs / "1" / "net"
        self.dir = (host_net if host_net.is_dir() else config.procfs / "net") / "bonding"
        d = config.definition
        self.expected = d.network.management_bond if d is not None else None

    def collect(self, s: Scrape) -> None:
        bonds = s.listdir(self.dir)
        if self.expected:
            s.add(PRESENT, 1 if self.expected in bonds else 0, bond=self.expected)
        for name in bonds:
            text = s.text(self.dir / name)
            if text is not None:
                self._bond(s, name, text)

    def _bond(self, s: Scrape, name: str, text: str) -> None:
        bond, slaves = parse_bonding(text)
        if "Bonding Mode" not in bond:
            s.error("parse")
            return
        policy = bond.get("Transmit Hash Policy", "").split(" (")[0]
        s.add(
            INFO, 1, bond=name, mode=bond["Bonding Mode"], lacp_rate=bond.get("LACP rate", ""), xmit_hash_policy=policy
        )
        active = _num(s, bond.get("Active Aggregator Info/Aggregator ID"))
        if "802.3ad" not in bond["Bonding Mode"] or active is None:
            for sl in slaves:
                s.add(MII, 1 if sl.get("MII Status") == "up" else 0, bond=name, slave=sl["Slave Interface"])
            return
        s.add(ACTIVE_AGG, active, bond=name)
        partner = bond.get("Active Aggregator Info/Partner Mac Address")
        s.add(PARTNER_ZERO, None if partner is None else int(partner == _ZERO_MAC), bond=name)
        in_active = 0
        for sl in slaves:
            labels = {"bond": name, "slave": sl["Slave Interface"]}
            s.add(MII, 1 if sl.get("MII Status") == "up" else 0, **labels)
            agg = _num(s, sl.get("Aggregator ID"))
            s.add(AGG, agg, **labels)
            if agg is not None:
                s.add(MISMATCH, int(agg != active), **labels)
                in_active += agg == active
            mac = sl.get("details partner lacp pdu/system mac address")
            s.add(SLAVE_PARTNER_ZERO, None if mac is None else int(mac == _ZERO_MAC), **labels)
            for side, title in (("actor", "Actor"), ("partner", "Partner")):
                state = sl.get(f"{title} Churn State")
                s.add(CHURNED, None if state is None else int(state == "churned"), **labels, side=side)
                s.add(CHURN_EVENTS, _num(s, sl.get(f"{title} Churned Count")), **labels, side=side)
            s.add(LINK_FAILURES, _num(s, sl.get("Link Failure Count")), **labels)
        s.add(IN_ACTIVE, in_active, bond=name)

    def close(self) -> None:
        pass
