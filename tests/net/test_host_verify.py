"""Verification of bond, rail ports and MTUs against host trees in the kernel's formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiinfra.definition.loader import load_definition
from aiinfra.net.bonding import parse_proc_bonding, read_bond
from aiinfra.net.host_verify import connectx_members, verify_host
from aiinfra.net.inventory_loader import load_inventory
from aiinfra.net.netplan import render_node
from aiinfra.net.plan import NodePlan

from .hostfs import ZERO, Port, host_tree, proc_bonding, write_bond

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = [Port("ens1f0np0", "b8:ce:f6:10:00:01"), Port("ens1f1np1", "b8:ce:f6:10:00:02")]
MTUS = {"bond0": 9000, "ens1f0np0": 9000, "ens1f1np1": 9000,
        "ibp26s0": 4092, "ibp63s0": 4092, "ibp159s0": 4092, "ibp191s0": 4092}


@pytest.fixture
def plan() -> NodePlan:
    d = load_definition(ROOT / "clusters/a800-ib.yaml")
    return render_node(d, load_inventory(ROOT / "clusters/a800-ib.nodes.yaml", d), "gpu-01")


def _codes(findings: list) -> list[tuple[str, str]]:
    return [(f.code, f.device) for f in findings if f.severity == "error"]


def test_healthy_8023ad_bond_and_rails_pass(tmp_path: Path, plan: NodePlan) -> None:
    root = host_tree(tmp_path / "h", mtus=MTUS)
    write_bond(root, proc_bonding(MEMBERS))
    assert _codes(verify_host(root, plan)) == []


def test_member_in_another_aggregator_is_an_error(tmp_path: Path, plan: NodePlan) -> None:
    root = host_tree(tmp_path / "h", mtus=MTUS)
    split = [MEMBERS[0], Port("ens1f1np1", "b8:ce:f6:10:00:02", aggregator=2)]
    write_bond(root, proc_bonding(split, ports_in_active=1))
    codes = _codes(verify_host(root, plan))
    assert ("bond-aggregator", "bond0/ens1f1np1") in codes
    assert ("bond-split", "bond0") in codes


def test_switch_without_lacp_shows_zero_partner_and_churn(tmp_path: Path, plan: NodePlan) -> None:
    root = host_tree(tmp_path / "h", mtus=MTUS)
    silent = [Port(m.name, m.mac, churn="churned", partner=ZERO) for m in MEMBERS]
    write_bond(root, proc_bonding(silent, partner=ZERO))
    codes = {c for c, _ in _codes(verify_host(root, plan))}
    assert {"bond-no-partner", "bond-churned"} <= codes


def test_member_down_and_missing(tmp_path: Path, plan: NodePlan) -> None:
    root = host_tree(tmp_path / "h", mtus=MTUS)
    write_bond(root, proc_bonding([Port("ens1f0np0", "b8:ce:f6:10:00:01", mii="down")]))
    codes = _codes(verify_host(root, plan))
    assert ("bond-member-down", "bond0/ens1f0np0") in codes
    assert ("bond-member-missing", "bond0/ens1f1np1") in codes


def test_degraded_rails_and_wrong_mtu(tmp_path: Path, plan: NodePlan) -> None:
    root = host_tree(tmp_path / "h", machine="a800-ib-degraded", mtus={**MTUS, "ibp26s0": 2044})
    write_bond(root, proc_bonding(MEMBERS))
    codes = _codes(verify_host(root, plan))
    assert ("rail-port-down", "rail1 (mlx5_3:1)") in codes
    assert ("rail-rate", "rail2 (mlx5_4:1)") in codes
    assert ("mtu", "rail0/ibp26s0") in codes


def test_no_bond_at_all(tmp_path: Path, plan: NodePlan) -> None:
    root = host_tree(tmp_path / "h", mtus=MTUS)
    assert ("bond-missing", "bond0") in _codes(verify_host(root, plan))


def test_connectx_bond_members_warn(tmp_path: Path, plan: NodePlan) -> None:
    root = host_tree(tmp_path / "h", mtus=MTUS)
    warned = connectx_members(root, plan)
    assert [f.device for f in warned] == ["bond0/ens1f0np0", "bond0/ens1f1np1"]
    assert all(f.severity == "warning" for f in warned)


def test_connectx_members_matched_by_mac_are_found_before_the_rename(tmp_path: Path) -> None:
    d = load_definition(ROOT / "clusters/a800-ib.yaml")
    plan = render_node(d, load_inventory(ROOT / "clusters/a800-ib.nodes.yaml", d), "gpu-03")  # lan0/lan1 by MAC
    root = host_tree(tmp_path / "h", mtus=MTUS)
    macs = {n: (root / "sys/class/net" / n / "address").read_text().strip() for n in ("ens1f0np0", "ens1f1np1")}
    assert plan.bond.macs == ("b8:ce:f6:10:00:30", "b8:ce:f6:10:00:31")
    plan = NodePlan(**{**plan.__dict__, "bond": plan.bond.__class__(
        "bond0", ("lan0", "lan1"), (macs["ens1f0np0"], macs["ens1f1np1"]), "802.3ad", 9000)})
    assert [f.device for f in connectx_members(root, plan)] == ["bond0/ens1f0np0", "bond0/ens1f1np1"]


def test_sysfs_bonding_when_proc_is_absent(tmp_path: Path) -> None:
    base = tmp_path / "sys" / "class" / "net"
    for name, text in {"bond0/bonding/mode": "802.3ad 4", "bond0/bonding/slaves": "eno1 eno2",
                       "bond0/bonding/ad_aggregator": "1", "bond0/bonding/ad_partner_mac": "44:38:39:ff:00:01",
                       "eno1/bonding_slave/ad_aggregator_id": "1", "eno1/bonding_slave/mii_status": "up",
                       "eno2/bonding_slave/ad_aggregator_id": "2", "eno2/bonding_slave/mii_status": "up"}.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(text + "\n")
    status = read_bond(tmp_path, "bond0")
    assert status is not None and status.is_8023ad
    assert [(m.name, m.aggregator_id) for m in status.members] == [("eno1", 1), ("eno2", 2)]


def test_parse_keeps_actor_and_partner_details_apart() -> None:
    status = parse_proc_bonding(proc_bonding(MEMBERS))
    assert status.partner_mac == "44:38:39:ff:00:01"
    assert [m.partner_mac for m in status.members] == ["44:38:39:ff:00:01"] * 2
    assert [m.permanent_mac for m in status.members] == [m.mac for m in MEMBERS]
    assert status.lacp_rate == "fast" and status.active_aggregator == 1
