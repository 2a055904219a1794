"""Apply and rollback against two network namespaces joined by a veth; never this machine's network.

The node is namespace A (its veth stands for bond0), the gateway and a peer
node are addresses in namespace B. The apply step is injected: it configures
A's veth with the bond address of the netplan files under the test root, as
`netplan apply` would configure bond0. The connectivity probe is the real one
(ping, run inside A). /etc/netplan is a directory under a temporary root, and
the real `netplan generate --root-dir` runs on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from aiinfra.definition.loader import load_definition
from aiinfra.net.host_apply import BACKUPS, PingProbe, RolledBack, apply_plan
from aiinfra.net.inventory_loader import load_inventory
from aiinfra.net.netplan import render_node
from aiinfra.net.plan import NETPLAN_FILE, NodePlan

ROOT = Path(__file__).resolve().parents[2]
OLD = """network:
  version: 2
  ethernets: {ens1f0np0: {}, ens1f1np1: {}}
  bonds:
    bond0: {interfaces: [ens1f0np0, ens1f1np1], addresses: [10.10.0.21/24]}
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("ping")
                                or not shutil.which("netplan"),
                                reason="needs root, iproute2, ping and netplan (make system-deps)")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def netns() -> Iterator[tuple[str, str]]:
    a, b = f"aiinet-a{os.getpid()}", f"aiinet-b{os.getpid()}"
    _ip("netns", "add", a)
    _ip("netns", "add", b)
    try:
        _ip("link", "add", "va", "netns", a, "type", "veth", "peer", "name", "vb", "netns", b)
        for ns, dev in ((a, "va"), (b, "vb")):
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", dev, "up")
        _ip("-n", b, "addr", "add", "10.10.0.1/24", "dev", "vb")   # the gateway
        _ip("-n", b, "addr", "add", "10.10.0.22/24", "dev", "vb")  # the peer node gpu-02
        yield a, b
    finally:
        subprocess.run(["ip", "netns", "del", a], check=False)
        subprocess.run(["ip", "netns", "del", b], check=False)


def _apply_in(ns: str):
    def apply_step(root: Path) -> None:
        address = None
        for path in sorted((root / "etc" / "netplan").glob("*.yaml")):
            bond = (yaml.safe_load(path.read_text())["network"].get("bonds") or {}).get("bond0")
            address = bond["addresses"][0] if bond else address
        _ip("-n", ns, "addr", "flush", "dev", "va")
        if address:
            _ip("-n", ns, "addr", "add", address, "dev", "va")
    return apply_step


def _addresses(ns: str) -> list[str]:
    out = subprocess.run(["ip", "-n", ns, "-o", "-4", "addr", "show", "dev", "va"], capture_output=True, text=True,
                         check=True).stdout
    return [line.split()[3] for line in out.splitlines()]


def _plan(tmp_path: Path, edit: tuple[str, str] = ("", "")) -> NodePlan:
    d = load_definition(ROOT / "clusters/a800-ib.yaml")
    inv = tmp_path / "a800-ib.nodes.yaml"
    inv.write_text((ROOT / "clusters/a800-ib.nodes.yaml").read_text().replace(*edit))
    return render_node(d, load_inventory(inv, d), "gpu-01")


def _root(tmp_path: Path, ns: str) -> Path:
    root = tmp_path / "root"
    (root / "etc" / "netplan").mkdir(parents=True)
    old = root / "etc" / "netplan" / "50-cloud-init.yaml"
    old.write_text(OLD)
    old.chmod(0o600)
    _apply_in(ns)(root)
    return root


def test_change_that_keeps_connectivity_stays(tmp_path: Path, netns: tuple[str, str]) -> None:
    a, _ = netns
    root = _root(tmp_path, a)
    plan = _plan(tmp_path, ("- {name: gpu-01, index: 21}", "- {name: gpu-01, index: 21, address: 10.10.0.31}"))
    outcome = apply_plan(plan, root, timeout_s=10, apply_step=_apply_in(a), probe=PingProbe(("ip", "netns", "exec", a)),
                         log=lambda _: None)
    assert outcome.changed and outcome.backup is not None
    assert sorted(p.name for p in (root / "etc" / "netplan").iterdir()) == [NETPLAN_FILE]
    assert (root / "etc" / "netplan" / NETPLAN_FILE).stat().st_mode & 0o777 == 0o600
    assert (outcome.backup / "50-cloud-init.yaml").read_text() == OLD
    assert _addresses(a) == ["10.10.0.31/24"]
    again = apply_plan(plan, root, apply_step=_apply_in(a), log=lambda _: None)
    assert not again.changed  # idempotent


def test_change_that_loses_the_peer_is_rolled_back(tmp_path: Path, netns: tuple[str, str]) -> None:
    a, _ = netns
    root = _root(tmp_path, a)
    plan = _plan(tmp_path, ("10.10.0.", "10.10.7."))  # another subnet: gateway and peer out of reach
    with pytest.raises(RolledBack, match=r"gateway 10\.10\.7\.1 and peers 10\.10\.7\.22, 10\.10\.7\.23 unreachable"):
        apply_plan(plan, root, timeout_s=3, apply_step=_apply_in(a), probe=PingProbe(("ip", "netns", "exec", a)),
                   log=lambda _: None)
    assert sorted(p.name for p in (root / "etc" / "netplan").iterdir()) == ["50-cloud-init.yaml"]
    assert (root / "etc" / "netplan" / "50-cloud-init.yaml").read_text() == OLD
    assert _addresses(a) == ["10.10.0.21/24"]
    assert PingProbe(("ip", "netns", "exec", a))("10.10.0.22")
    assert len(list((root / BACKUPS).iterdir())) == 1


def test_dry_run_changes_nothing(tmp_path: Path, netns: tuple[str, str]) -> None:
    a, _ = netns
    root = _root(tmp_path, a)
    lines: list[str] = []

    def refuse(_: Path) -> None:
        raise AssertionError("dry run applied")

    outcome = apply_plan(_plan(tmp_path), root, dry_run=True, apply_step=refuse, log=lines.append)
    assert not outcome.changed and "+++ " in outcome.diff and "(moved aside)" in outcome.diff
    assert sorted(p.name for p in (root / "etc" / "netplan").iterdir()) == ["50-cloud-init.yaml"]
    assert not (root / "var").exists() and not (root / "run").exists()
