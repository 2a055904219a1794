"""Management bond (802.3ad) alerts: bond down, member down, wrong aggregator, no LACP partner, churn, flapping.

node_exporter counts members whose MII is up (labels ``master``); a member can be up yet
outside the active aggregator (LACP failed on the switch side), which only the aiinfra exporter
sees (labels ``bond``, ``slave``).

Example:
    >>> from aiinfra.monitor.rules.bond import bond_alerts
    >>> from aiinfra.monitor.rules.thresholds import Thresholds
    >>> [a.name for a in bond_alerts(Thresholds(), "bond0")][:2]
    ['BondDown', 'BondMemberDown']
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from aiinfra.monitor.rules import metrics as m
from aiinfra.monitor.rules.model import Alert, Case, Severity, alert_of
from aiinfra.monitor.rules.promql import sel
from aiinfra.monitor.rules.thresholds import Thresholds, duration_words

_PROC = "cat /proc/net/bonding/<bond>"

_alert = alert_of("bond")


def _bond_series(bond: str | None) -> SimpleNamespace:
    """The test series and label sets the alerts below share."""
    master = f'node="gpu-1",master="{bond}"'
    who = {"node": "gpu-1", "master": bond}
    bwho = {"node": "gpu-1", "bond": bond}
    slave = f'node="gpu-1",bond="{bond}",slave="eth1"'
    swho = {**bwho, "slave": "eth1"}
    return SimpleNamespace(master=master, who=who, bwho=bwho, slave=slave, swho=swho)


def _members(w: SimpleNamespace, active: str, *fired: dict[str, str]) -> Case:
    """A case of a two-member bond whose active-member count takes the values ``active``."""
    series = ((f"{m.BOND_ACTIVE}{{{w.master}}}", active), (f"{m.BOND_SLAVES}{{{w.master}}}", "2x10"))
    return Case(series, "20s", fired)


_BOND_ALERTS: tuple[Callable[..., Alert], ...] = (
    lambda t, bond, w: _alert(
        "BondDown",
        f"{sel(m.BOND_ACTIVE, master=bond)} == 0",
        t.fast_for,
        Severity.CRITICAL,
        "Management bond {{ $labels.master }} of {{ $labels.node }} has no active member",
        "The node's management network is gone: the kubelet cannot reach the API server and the node will "
        "turn NotReady.",
        f"The BMC console: ip link, {_PROC}; the switch ports of both members.",
        "Restore one member (cable, switch port, LACP configuration); the node's pods are evicted if it stays "
        "NotReady.",
        f"通过 BMC 控制台：ip link、{_PROC}；两个成员的交换机端口。",
        "恢复至少一个成员（线缆、交换机端口、LACP 配置）；节点持续 NotReady 时其 Pod 会被驱逐。",
        _members(w, "2 0x10", w.who),
        _members(w, "2 1x10"),
    ),
    lambda t, bond, w: _alert(
        "BondMemberDown",
        f"{sel(m.BOND_ACTIVE, master=bond)} < {sel(m.BOND_SLAVES, master=bond)}",
        t.fast_for,
        Severity.WARNING,
        "Management bond {{ $labels.master }} of {{ $labels.node }} lost a member",
        "Fewer members have MII up than belong to the bond: the node runs without management redundancy.",
        f"{_PROC} (MII Status per member); ethtool <member>; the switch port.",
        "Fix the cable or switch port of the down member.",
        f"{_PROC}（各成员 MII Status）；ethtool <成员>；交换机端口。",
        "修复故障成员的线缆或交换机端口。",
        _members(w, "2 1x10", w.who),
        _members(w, "2x10"),
    ),
    lambda t, bond, w: _alert(
        "BondMemberWrongAggregator",
        f"{sel(m.BOND_AGGREGATOR_MISMATCH, bond=bond)} == 1",
        t.fast_for,
        Severity.WARNING,
        "Bond member {{ $labels.slave }} of {{ $labels.bond }} on {{ $labels.node }} is outside the "
        "active aggregator",
        "The member's link is up but LACP put it in another aggregator than the bond's active one, so it "
        "carries no traffic; node_exporter still counts it as active.",
        f"{_PROC}: 'Aggregator ID' per member against 'Active Aggregator Info', and the partner MAC: a "
        "member with another partner MAC is cabled to the wrong switch or port-channel.",
        "Fix the switch's port-channel (both members in one LAG / MLAG pair) or the cabling.",
        f"{_PROC}：比较各成员的 'Aggregator ID' 与 'Active Aggregator Info'，以及对端 MAC："
        "对端 MAC 不同说明接错了交换机或端口聚合组。",
        "修正交换机端口聚合组（两个成员在同一 LAG / MLAG 对中）或布线。",
        Case(((f"{m.BOND_AGGREGATOR_MISMATCH}{{{w.slave}}}", "0 1x10"),), "20s", (w.swho,)),
        Case(((f"{m.BOND_AGGREGATOR_MISMATCH}{{{w.slave}}}", "0x10"),), "20s"),
    ),
    lambda t, bond, w: _alert(
        "BondNoLacpPartner",
        f"{sel(m.BOND_PARTNER_MAC_ZERO, bond=bond)} == 1",
        t.settle_for,
        Severity.WARNING,
        "Bond {{ $labels.bond }} of {{ $labels.node }} has no LACP partner",
        "The active aggregator's partner MAC is all zero: the switch ports are not configured for LACP, and "
        "the bond runs on one member at best.",
        f"{_PROC} (Partner Mac Address); the switch's port-channel configuration for both ports.",
        "Configure the switch ports as one LACP port-channel (mode active).",
        f"{_PROC}（Partner Mac Address）；交换机上两个端口的端口聚合配置。",
        "将交换机端口配置为同一 LACP 端口聚合组（active 模式）。",
        Case(((f'{m.BOND_PARTNER_MAC_ZERO}{{node="gpu-1",bond="{bond}"}}', "1x20"),), "80s", (w.bwho,)),
        Case(((f'{m.BOND_PARTNER_MAC_ZERO}{{node="gpu-1",bond="{bond}"}}', "1x5 0x20"),), "80s"),
    ),
    lambda t, bond, w: _alert(
        "BondLacpChurn",
        f"{sel(m.BOND_CHURN, bond=bond)} == 1",
        t.settle_for,
        Severity.WARNING,
        "LACP churn ({{ $labels.side }}) on bond member {{ $labels.slave }} of {{ $labels.bond }} on "
        "{{ $labels.node }}",
        "The member's actor or partner churn state stays 'churned': LACP negotiation with the switch fails.",
        f"{_PROC} (Actor/Partner Churn State); the switch's LACP status for the port.",
        "Match LACP settings (mode active, rate) on the switch; fix the port-channel membership.",
        f"{_PROC}（Actor/Partner Churn State）；交换机该端口的 LACP 状态。",
        "在交换机上对齐 LACP 设置（active 模式、速率）；修正端口聚合组成员。",
        Case(((f'{m.BOND_CHURN}{{{w.slave},side="partner"}}', "0 1x20"),), "80s", ({**w.swho, "side": "partner"},)),
        Case(((f'{m.BOND_CHURN}{{{w.slave},side="partner"}}', "0 1x5 0x20"),), "80s"),
    ),
    lambda t, bond, w: _alert(
        "BondMemberFlapping",
        f"increase({sel(m.BOND_LINK_FAILURES, bond=bond)}[{t.bond_flap_window}]) > {t.bond_flaps_per_window}",
        "0s",
        Severity.WARNING,
        "Bond member {{ $labels.slave }} of {{ $labels.bond }} on {{ $labels.node }} flaps",
        f"The member's link failed more than {t.bond_flaps_per_window} times in {duration_words(t.bond_flap_window)} "
        "(Link Failure Count).",
        "ethtool <member> and ethtool -S for errors; the switch port's log; optics.",
        "Replace the cable or optic; move to another switch port if it continues.",
        "ethtool <成员> 与 ethtool -S 查看错误；交换机端口日志；光模块。",
        "更换线缆或光模块；仍抖动则换用其他交换机端口。",
        Case(((f"{m.BOND_LINK_FAILURES}{{{w.slave}}}", "0+1x10"),), "40s", (w.swho,)),
        Case(((f"{m.BOND_LINK_FAILURES}{{{w.slave}}}", "5x3 6x10"),), "40s"),
    ),
)
"""One alert per entry, from ``bond_alerts``'s arguments and ``_bond_series``: the table of this module."""


def bond_alerts(t: Thresholds, bond: str | None) -> list[Alert]:
    """Alerts on the definition's management bond; none when it declares no bond."""
    if not bond:
        return []
    w = _bond_series(bond)
    return [spec(t, bond, w) for spec in _BOND_ALERTS]

