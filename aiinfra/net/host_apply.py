"""Installing a node's netplan file safely: diff, back up, write, generate, apply, roll back.

``netplan try`` would roll back on its own, but it refuses any bond with a
``parameters:`` block (every 802.3ad bond has one), so the rollback is ours:
after ``netplan apply`` the connectivity check must reach the gateway and one
peer node within the timeout, else the backup is restored and applied again.
Paths are under a root directory (``/`` on a node, a temporary tree in tests),
and the apply step and the probe's command prefix are injectable so tests run
them inside network namespaces instead of on the test machine.

Example:
    >>> from pathlib import Path
    >>> changes = plan_changes(Path("/nonexistent"), "network: {version: 2}\\n", set())
    >>> [(c.path.name, c.old is None, c.new is not None) for c in changes]
    [('60-aiinfra.yaml', True, True)]
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from aiinfra.errors import AiinfraError
from aiinfra.net.plan import NETPLAN_FILE, NodePlan

ApplyStep = Callable[[Path], None]
"""Makes the netplan files under the root live (default: ``netplan apply``)."""
BACKUPS = Path("var/backups/aiinfra-netplan")
_SECTIONS = ("ethernets", "bonds", "bridges", "vlans", "wifis", "tunnels", "vrfs", "modems", "nm-devices")


class RolledBack(AiinfraError):
    """The new configuration failed the connectivity check; the previous one is back."""


@dataclass(frozen=True)
class Change:
    """One file under /etc/netplan: its text before and after (None: absent / moved aside)."""

    path: Path
    old: str | None
    new: str | None


def netplan_dir(root: Path) -> Path:
    return root / "etc" / "netplan"


def plan_changes(root: Path, text: str, interfaces: set[str]) -> list[Change]:
    """Our file's change, plus every other netplan file that configures one of ``interfaces``.

    Those would be merged with ours by netplan (an old DHCP stanza on a bond member
    breaks the bond), so they are moved into the backup.
    """
    target = netplan_dir(root) / NETPLAN_FILE
    old = target.read_text(encoding="utf-8") if target.is_file() else None
    changes = [] if old == text else [Change(target, old, text)]
    for path in sorted(netplan_dir(root).glob("*.yaml")) if netplan_dir(root).is_dir() else []:
        if path.name != NETPLAN_FILE and _configures(path, interfaces):
            changes.append(Change(path, path.read_text(encoding="utf-8"), None))
    return changes


def _configures(path: Path, interfaces: set[str]) -> bool:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return False
    network = doc.get("network") if isinstance(doc, dict) else None
    if not isinstance(network, dict):
        return False
    for section in _SECTIONS:
        for key, value in (network.get(section) or {}).items():
            names = {key, (value or {}).get("set-name")} if isinstance(value, dict) or value is None else {key}
            members = (value or {}).get("interfaces", []) if isinstance(value, dict) else []
            if names & interfaces or set(members) & interfaces:
                return True
    return False


def diff_text(changes: Sequence[Change]) -> str:
    """A unified diff of every change, as `diff -u` would show it; empty when nothing changes."""
    out: list[str] = []
    for c in changes:
        label = f"{c.path} (moved aside)" if c.new is None else str(c.path)
        out += difflib.unified_diff((c.old or "").splitlines(keepends=True), (c.new or "").splitlines(keepends=True),
                                    fromfile=f"{c.path} (current)" if c.old is not None else "/dev/null",
                                    tofile=label)
    return "".join(out)


def backup(root: Path, stamp: str) -> Path:
    """Copy /etc/netplan (files and modes) into /var/backups/aiinfra-netplan/<stamp>/; returns that directory."""
    dest = root / BACKUPS / stamp
    dest.mkdir(parents=True, exist_ok=False)
    source = netplan_dir(root)
    for path in sorted(source.glob("*")) if source.is_dir() else []:
        if path.is_file():
            shutil.copy2(path, dest / path.name)
    return dest


def write(changes: Sequence[Change]) -> None:
    """Write our file (mode 0600: netplan warns about readable files) and remove the ones moved aside."""
    for c in changes:
        if c.new is None:
            c.path.unlink()
        else:
            c.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = c.path.with_suffix(".tmp")
            tmp.write_text(c.new, encoding="utf-8")
            tmp.chmod(0o600)
            tmp.replace(c.path)  # atomic: netplan never reads half a file


def restore(root: Path, saved: Path) -> None:
    """Make /etc/netplan exactly what ``saved`` holds again."""
    target = netplan_dir(root)
    for path in target.glob("*.yaml"):
        path.unlink()
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(saved.iterdir()):
        shutil.copy2(path, target / path.name)


def generate(root: Path) -> None:
    """``netplan generate`` (with ``--root-dir`` unless root is /); AiinfraError with its message on failure."""
    cmd = ["netplan", "generate"] + ([] if root == Path("/") else ["--root-dir", str(root)])
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError:
        raise AiinfraError("netplan is not installed (apt-get install netplan.io)") from None
    if run.returncode != 0:
        raise AiinfraError(f"netplan generate failed: {(run.stderr or run.stdout).strip()}")


def netplan_apply(root: Path) -> None:
    """The default apply step: ``netplan apply`` (only on the real root)."""
    if root != Path("/"):
        raise AiinfraError(f"refusing `netplan apply` for root {root}: it would change this machine")
    run = subprocess.run(["netplan", "apply"], capture_output=True, text=True, timeout=300, check=False)
    if run.returncode != 0:
        raise AiinfraError(f"netplan apply failed: {(run.stderr or run.stdout).strip()}")


@dataclass(frozen=True)
class PingProbe:
    """Reachability by ICMP echo, the way an operator checks it; ``wrap`` prefixes the command (e.g. ip netns exec)."""

    wrap: tuple[str, ...] = ()

    def __call__(self, address: str) -> bool:
        cmd = [*self.wrap, "ping", "-c", "1", "-W", "1", address]
        try:
            return subprocess.run(cmd, capture_output=True, timeout=10, check=False).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False


def wait_connected(plan: NodePlan, probe: Callable[[str], bool], timeout_s: float) -> str | None:
    """None once the gateway and (when the plan names peers) one peer answer; else what did not, at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        missing = []
        if plan.gateway and not probe(plan.gateway):
            missing.append(f"gateway {plan.gateway}")
        if plan.peers and not any(probe(p) for p in plan.peers):
            missing.append(f"peers {', '.join(plan.peers)}")
        if not missing:
            return None
        if time.monotonic() >= deadline:
            return " and ".join(missing) + " unreachable"
        time.sleep(1)


@dataclass(frozen=True)
class Outcome:
    """What :func:`apply_plan` did."""

    changed: bool
    diff: str
    backup: Path | None


def apply_plan(
    plan: NodePlan,
    root: Path,
    *,
    dry_run: bool = False,
    timeout_s: float = 60.0,
    apply_step: ApplyStep = netplan_apply,
    probe: Callable[[str], bool] | None = None,
    log: Callable[[str], None] = print,
) -> Outcome:
    """Install ``plan``'s netplan file under ``root``; roll back unless connectivity holds within ``timeout_s``.

    Order: diff, (stop here on dry run: ``netplan generate`` checks the file in a scratch root),
    back up, write, generate, apply, check; on a failed generate or check, restore the backup,
    generate and apply it again, and raise RolledBack naming what was unreachable.
    """
    changes = plan_changes(root, plan.netplan, plan.interfaces())
    diff = diff_text(changes)
    if not changes:
        log(f"{netplan_dir(root) / NETPLAN_FILE}: already as rendered; nothing to apply")
        return Outcome(False, "", None)
    log(diff.rstrip("\n"))
    if dry_run:
        _check_in_scratch_root(root, changes)
        log("dry run: netplan generate accepts the file; nothing was changed")
        return Outcome(False, diff, None)
    saved = backup(root, time.strftime("%Y%m%dT%H%M%S") + f"-{time.monotonic_ns() % 10**6:06d}")
    log(f"backed up {netplan_dir(root)} to {saved}")
    write(changes)
    try:
        generate(root)
        log("netplan generate: ok; applying")
        apply_step(root)
    except AiinfraError as exc:
        _roll_back(root, saved, apply_step, log)
        raise RolledBack(f"{exc}; restored {saved}") from None
    unreachable = wait_connected(plan, probe or PingProbe(), timeout_s)
    if unreachable:
        log(f"connectivity check failed after {timeout_s:g}s: {unreachable}; rolling back")
        _roll_back(root, saved, apply_step, log)
        raise RolledBack(f"{unreachable} within {timeout_s:g}s after apply; the previous configuration "
                         f"({saved}) is applied again")
    log(f"connectivity: gateway {plan.gateway or '-'} and a peer answer")
    return Outcome(True, diff, saved)


def _roll_back(root: Path, saved: Path, apply_step: ApplyStep, log: Callable[[str], None]) -> None:
    restore(root, saved)
    try:
        generate(root)
        apply_step(root)
    except AiinfraError as exc:
        # The files are back; only making them live failed. Say so instead of hiding it.
        raise RolledBack(f"restored {saved} into {netplan_dir(root)}, but applying it failed: {exc}; "
                         "run `netplan apply` from the console") from None
    log(f"rolled back to {saved}")


def _check_in_scratch_root(root: Path, changes: Sequence[Change]) -> None:
    """Run the real ``netplan generate`` on the would-be /etc/netplan in a temporary root."""
    with tempfile.TemporaryDirectory(prefix="aiinfra-netplan-") as tmp:
        scratch = Path(tmp)
        (scratch / "etc").mkdir()
        if netplan_dir(root).is_dir():
            shutil.copytree(netplan_dir(root), netplan_dir(scratch))
        write([Change(netplan_dir(scratch) / c.path.name, c.old, c.new) for c in changes])
        generate(scratch)
