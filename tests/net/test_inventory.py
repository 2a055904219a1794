"""The node inventory: what it accepts, and every refusal located by file:line: field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aiinfra.definition.loader import load_definition
from aiinfra.errors import DefinitionError
from aiinfra.net.inventory_loader import inventory_warnings, load_inventory

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "clusters/a800-ib.nodes.yaml").read_text()
DEFINITION = load_definition(ROOT / "clusters/a800-ib.yaml")


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "x.nodes.yaml"
    path.write_text(text)
    with pytest.raises(DefinitionError) as exc:
        load_inventory(path, DEFINITION)
    return [str(p).replace(str(path), "F") for p in exc.value.problems]


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_shipped_inventories_load() -> None:
    for cluster in ("a800-ib", "roce"):
        d = load_definition(ROOT / f"clusters/{cluster}.yaml")
        inv = load_inventory(ROOT / f"clusters/{cluster}.nodes.yaml", d)
        assert inv.nodes and inventory_warnings(inv, d) == []


def test_lacp_rate_on_a_bond_that_is_not_8023ad(tmp_path: Path) -> None:
    text = GOOD.replace("mode: 802.3ad", "mode: active-backup")
    errors = _errors(tmp_path, text)
    assert f"F:{_line(text, 'lacp_rate')}: bond.lacp_rate: LACP runs only in mode 802.3ad" in errors[0]
    # active-backup does not hash either: both are what netplan accepts and the kernel ignores
    hash_line = _line(text, "transmit_hash")
    assert f"F:{hash_line}: bond.transmit_hash_policy: mode 'active-backup' does not hash" in errors[1]


def test_hash_policy_on_a_mode_that_does_not_hash(tmp_path: Path) -> None:
    text = GOOD.replace("mode: 802.3ad", "mode: broadcast").replace("  lacp_rate: fast\n", "")
    where = f"F:{_line(text, 'transmit_hash')}: bond.transmit_hash_policy"
    assert any(e.startswith(where) for e in _errors(tmp_path, text))


def test_twenty_byte_ipoib_mac_in_match_is_refused(tmp_path: Path) -> None:
    # queue pair number (4 bytes), then the port GID (16 bytes): what `ip link` shows for an IPoIB netdev
    gid = ["fe", "80"] + ["00"] * 6 + ["b8", "ce", "f6", "03", "00", "10", "00", "01"]
    mac20 = ":".join(["80", "00", "10", "29", *gid])
    text = GOOD.replace("{interface: ibp26s0,", f"{{interface: ibp26s0, mac: '{mac20}',")
    errors = _errors(tmp_path, text)
    assert errors == [f"F:{_line(text, mac20)}: rails.rail0.mac: Value error, a 20-byte IPoIB hardware address "
                      "cannot identify a port (its queue pair bytes change); match IPoIB ports by interface name "
                      f"(got '{mac20}')"]


def test_bond_needs_two_members(tmp_path: Path) -> None:
    text = GOOD.replace("members: [{name: ens1f0np0}, {name: ens1f1np1}]", "members: [{name: ens1f0np0}]")
    errors = _errors(tmp_path, text)
    line = _line(text, "members: [{name: ens1f0np0}]")
    assert errors[0].startswith(f"F:{line}: bond.members: a bond needs at least 2")


def test_addresses_outside_subnet_and_duplicated(tmp_path: Path) -> None:
    text = GOOD.replace("address: 10.10.0.40", "address: 10.10.9.40").replace(
        "rail0: {address: 10.100.0.40}", "rail0: {address: 10.100.0.22}")
    errors = _errors(tmp_path, text)
    assert f"F:{_line(text, '10.10.9.40')}: nodes[3].address: 10.10.9.40 is outside the subnet 10.10.0.0/24" in errors
    line = _line(text, "10.100.0.22")
    assert f"F:{line}: nodes[3].rails.rail0.address: 10.100.0.22 (rail0) is also gpu-02's address" in errors


def test_ipoib_mtu_beyond_what_the_mode_allows(tmp_path: Path) -> None:
    text = GOOD.replace("rail1: {interface: ibp63s0, subnet: 10.101.0.0/24, ipoib_mode: datagram, mtu: 4092}",
                        "rail1: {interface: ibp63s0, subnet: 10.101.0.0/24, ipoib_mode: datagram, mtu: 4096}")
    text = text.replace("ipoib_mode: datagram, mtu: 4092}    # LAN2",
                        "ipoib_mode: datagram, ib_link_mtu: 2048, mtu: 4092}")
    errors = _errors(tmp_path, text)
    line = _line(text, "ibp63s0")
    why = "the largest MTU of datagram IPoIB on a 4096-byte IB MTU"
    assert f"F:{line}: rails.rail1.mtu: 4096 exceeds 4092, {why}" in errors
    assert any(e.startswith(f"F:{_line(text, 'ibp26s0')}: rails.rail0.mtu: 4092 exceeds 2044") for e in errors)
    connected = GOOD.replace("ipoib_mode: datagram, mtu: 4092}    # LAN2", "ipoib_mode: connected, mtu: 65521}")
    assert "less than or equal to 65520" in _errors(tmp_path, connected)[0]


def test_mtu_must_be_the_same_on_every_node_of_a_rail(tmp_path: Path) -> None:
    text = GOOD.replace("rail0: {address: 10.100.0.40}", "rail0: {address: 10.100.0.40, mtu: 2044}")
    assert _errors(tmp_path, text) == [f"F:{_line(text, 'mtu: 2044')}: nodes[3].rails.rail0.mtu: 2044 differs from "
                                       "the rail's 4092: every node of a rail needs the same MTU (a smaller one on "
                                       "one end makes large messages fail)"]


def test_rails_must_match_the_definition_and_fields_are_strict(tmp_path: Path) -> None:
    text = GOOD.replace("  rail3:", "  rail9:").replace("gateway: 10.10.0.1", "gateway: 10.10.0.1\n  gatway: 10.10.0.1")
    errors = _errors(tmp_path, text)
    assert errors == [f"F:{_line(text, 'gatway')}: bond.gatway: unknown field"]
    errors = _errors(tmp_path, GOOD.replace("  rail3:", "  rail9:"))
    assert any("rails.rail9: the definition has no rail 'rail9'" in e for e in errors)
    assert any("rails: rail 'rail3' of the definition has no entry here" in e for e in errors)


def test_connected_mode_on_connectx_warns(tmp_path: Path) -> None:
    path = tmp_path / "x.nodes.yaml"
    path.write_text(GOOD.replace("ipoib_mode: datagram, mtu: 4092}    # LAN2", "ipoib_mode: connected, mtu: 65520}"))
    warnings = inventory_warnings(load_inventory(path, DEFINITION), DEFINITION)
    assert [w.path for w in warnings] == ["rails.rail0.ipoib_mode"]


def test_cli_exit_2_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text((ROOT / "clusters/a800-ib.yaml").read_text())
    (tmp_path / "c.nodes.yaml").write_text(GOOD.replace("mode: 802.3ad", "mode: balance-rr"))
    run = subprocess.run([sys.executable, "-m", "aiinfra", "net", "render", str(tmp_path / "c.yaml")],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert f"c.nodes.yaml:{_line(GOOD, 'lacp_rate')}: bond.lacp_rate: LACP runs only in mode 802.3ad" in run.stderr
