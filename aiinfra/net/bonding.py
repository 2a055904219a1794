"""A bond's state as the kernel shows it: /proc/net/bonding/<bond> and sysfs.

The proc file (format: Documentation/networking/bonding.rst, "Querying Bonding
Configuration") has a header (mode, hash policy, MII status), an "802.3ad info"
block with the active aggregator and its partner, then one block per member
("Slave Interface: ...") with its MII status, permanent MAC, aggregator ID and
churn states. On 802.3ad, a healthy bond has every member up in the active
aggregator, a partner MAC that is not all zero (zero: the switch sends no LACPDUs)
and churn state "none" ("churned": LACP never converged on that port).

Example:
    >>> s = parse_proc_bonding(SAMPLE)
    >>> s.mode, s.active_aggregator, [(m.name, m.aggregator_id) for m in s.members]
    ('IEEE 802.3ad Dynamic link aggregation', 1, [('eno1', 1), ('eno2', 1)])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aiinfra.node import sysfs  # bounded reads of regular files only: a damaged /sys cannot block them

ZERO_MAC = "00:00:00:00:00:00"
SAMPLE = """Bonding Mode: IEEE 802.3ad Dynamic link aggregation
MII Status: up

802.3ad info
Active Aggregator Info:
\tAggregator ID: 1
\tPartner Mac Address: 44:38:39:ff:00:01

Slave Interface: eno1
MII Status: up
Aggregator ID: 1

Slave Interface: eno2
MII Status: up
Aggregator ID: 1
"""


@dataclass
class BondMember:
    """One member ("slave") block."""

    name: str
    mii_status: str = ""
    speed: str = ""
    permanent_mac: str = ""
    aggregator_id: int | None = None
    actor_churn: str = ""
    partner_churn: str = ""
    partner_mac: str = ""
    """The system MAC from the member's 'details partner lacp pdu' block (802.3ad, newer kernels)."""


@dataclass
class BondStatus:
    """What /proc/net/bonding/<bond> says."""

    mode: str = ""
    mii_status: str = ""
    transmit_hash_policy: str = ""
    lacp_rate: str = ""
    active_aggregator: int | None = None
    partner_mac: str = ""
    members: list[BondMember] = field(default_factory=list)

    @property
    def is_8023ad(self) -> bool:
        return self.mode.startswith("IEEE 802.3ad")

    def member(self, name: str | None = None, mac: str | None = None) -> BondMember | None:
        """The member with that interface name, or with that permanent MAC."""
        for m in self.members:
            if (name is not None and m.name == name) or (mac is not None and m.permanent_mac.lower() == mac.lower()):
                return m
        return None


def parse_proc_bonding(text: str) -> BondStatus:
    """Parse the text of /proc/net/bonding/<bond>; unknown lines are ignored."""
    status = BondStatus()
    member: BondMember | None = None
    section = "top"
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("Slave Interface:"):
            member = BondMember(name=_value(line))
            status.members.append(member)
            section = "member"
            continue
        if line == "Active Aggregator Info:":
            section = "aggregator"
            continue
        if line.startswith("details "):
            # 'details actor lacp pdu:' / 'details partner lacp pdu:' inside a member block
            section = "member-partner" if "partner" in line else "member-actor"
            continue
        key, _, value = line.partition(":")
        _assign(status, member, section, key.strip(), value.strip())
    return status


def _assign(status: BondStatus, member: BondMember | None, section: str, key: str, value: str) -> None:
    if member is None:
        if key == "Aggregator ID" and section == "aggregator":
            status.active_aggregator = _int(value)
        elif key == "Partner Mac Address" and section == "aggregator":
            status.partner_mac = value.lower()
        elif key in _TOP:
            setattr(status, _TOP[key], value)
        return
    if section == "member-partner":
        if key == "system mac address":
            member.partner_mac = value.lower()
        return
    if section == "member-actor":
        return
    if key == "Aggregator ID":
        member.aggregator_id = _int(value)
    elif key in _MEMBER:
        setattr(member, _MEMBER[key], value.lower() if key == "Permanent HW addr" else value)


_TOP = {"Bonding Mode": "mode", "MII Status": "mii_status", "Transmit Hash Policy": "transmit_hash_policy",
        "LACP rate": "lacp_rate"}
_MEMBER = {"MII Status": "mii_status", "Speed": "speed", "Permanent HW addr": "permanent_mac",
           "Actor Churn State": "actor_churn", "Partner Churn State": "partner_churn"}


def read_bond(root: Path, bond: str) -> BondStatus | None:
    """The bond's status under ``root`` (``/`` on a node): /proc/net/bonding, else sysfs; None if absent."""
    proc = root / "proc" / "net" / "bonding" / bond
    if proc.is_file():
        return parse_proc_bonding(proc.read_text(encoding="utf-8", errors="replace"))
    return read_sysfs_bond(root, bond)


def read_sysfs_bond(root: Path, bond: str) -> BondStatus | None:
    """The same facts from /sys/class/net/<bond>/bonding and each member's bonding_slave/ (no /proc)."""
    base = root / "sys" / "class" / "net" / bond / "bonding"
    if not base.is_dir():
        return None
    mode = sysfs.read(base / "mode").split(" ")[0]  # '802.3ad 4'
    status = BondStatus(
        mode="IEEE 802.3ad Dynamic link aggregation" if mode == "802.3ad" else mode,
        mii_status=sysfs.read(base / "mii_status"),
        transmit_hash_policy=sysfs.read(base / "xmit_hash_policy"),
        lacp_rate=sysfs.read(base / "lacp_rate").split(" ")[0],
        active_aggregator=_int(sysfs.read(base / "ad_aggregator")),
        partner_mac=sysfs.read(base / "ad_partner_mac").lower(),
    )
    for name in sysfs.read(base / "slaves").split():
        slave = root / "sys" / "class" / "net" / name / "bonding_slave"
        status.members.append(BondMember(
            name=name,
            mii_status=sysfs.read(slave / "mii_status"),
            permanent_mac=sysfs.read(slave / "perm_hwaddr").lower(),
            aggregator_id=_int(sysfs.read(slave / "ad_aggregator_id")),
            # sysfs has no churn state; the partner is the aggregator's
            partner_mac=status.partner_mac,
        ))
    return status


def _value(line: str) -> str:
    return line.partition(":")[2].strip()


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None
