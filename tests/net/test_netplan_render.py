"""Rendered netplan files: goldens, and the real `netplan generate --root-dir` on every one of them."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from aiinfra.definition.loader import load_definition
from aiinfra.net.inventory_loader import load_inventory
from aiinfra.net.netplan import render_all
from aiinfra.net.plan import NETPLAN_FILE, NodePlan

ROOT = Path(__file__).resolve().parents[2]
CLUSTERS = ["a800-ib", "roce"]


def _plans(cluster: str, monkeypatch: pytest.MonkeyPatch) -> list[NodePlan]:
    monkeypatch.chdir(ROOT)  # relative sources in the header keep goldens checkout-independent
    d = load_definition(f"clusters/{cluster}.yaml")
    return render_all(d, load_inventory(f"clusters/{cluster}.nodes.yaml", d))


def _netplan() -> str:
    exe = shutil.which("netplan")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("netplan is missing in CI: `make system-deps` installs netplan.io")
        pytest.skip("netplan is not installed (make system-deps)")
    return exe


def _generate(tmp_path: Path, plan: NodePlan) -> dict[str, configparser.ConfigParser]:
    root = tmp_path / plan.node
    (root / "etc" / "netplan").mkdir(parents=True)
    target = root / "etc" / "netplan" / NETPLAN_FILE
    target.write_text(plan.netplan)
    target.chmod(0o600)
    run = subprocess.run([_netplan(), "generate", "--root-dir", str(root)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    units = {}
    for path in sorted((root / "run" / "systemd" / "network").iterdir()):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(path.read_text())
        units[path.name] = parser
    return units


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_golden(cluster: str, monkeypatch: pytest.MonkeyPatch, golden: Callable[[str, str], None]) -> None:
    for plan in _plans(cluster, monkeypatch):
        golden(f"net/{cluster}/{plan.node}.yaml", plan.netplan)
        golden(f"net/{cluster}/{plan.node}.plan.json", plan.to_json())


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_netplan_generate_makes_the_bond_and_rails(cluster: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for plan in _plans(cluster, monkeypatch):
        units = _generate(tmp_path, plan)
        bond = units[f"10-netplan-{plan.bond.name}.netdev"]
        assert bond["NetDev"]["Kind"] == "bond"
        assert bond["Bond"]["Mode"] == "802.3ad"
        assert bond["Bond"]["LACPTransmitRate"] == "fast"
        assert bond["Bond"]["TransmitHashPolicy"] == "layer3+4"
        assert bond["NetDev"]["MTUBytes"] == str(plan.bond.mtu)
        bond_net = units[f"10-netplan-{plan.bond.name}.network"]
        assert bond_net["Route"]["Gateway"] == plan.gateway
        for member, mac in zip(plan.bond.members, plan.bond.macs, strict=True):
            unit = units[f"10-netplan-{member}.network"]
            assert unit["Network"]["Bond"] == plan.bond.name
            if mac:
                assert unit["Match"]["PermanentMACAddress"] == mac
        for rail in plan.rails:
            unit = units[f"10-netplan-{rail.interface}.network"]
            assert unit["Network"]["Address"] == rail.address
            assert unit["Link"]["MTUBytes"] == str(rail.mtu)
            if rail.link_layer == "InfiniBand":
                assert unit["IPoIB"]["Mode"] == rail.ipoib_mode
            else:
                assert not unit.has_section("IPoIB")


def test_roce_rails_have_no_ipoib(monkeypatch: pytest.MonkeyPatch) -> None:
    plans = _plans("roce", monkeypatch)
    assert all(r.ipoib_mode is None and r.link_layer == "Ethernet" for p in plans for r in p.rails)
    assert "infiniband-mode" not in plans[0].netplan
