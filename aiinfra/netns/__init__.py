"""Linux network namespaces made by aiinfra itself: the one place that shells out to iproute2.

Two users build on these primitives: :mod:`aiinfra.netns.pods` (a network namespace per pod of a
process-backed simulator node) and :mod:`aiinfra.netns.fabric` (nodes and rails of the fabric
test's real data plane). Every name carries a prefix of its user, so :func:`sweep` removes a dead
run's leftovers and nothing else; the machine's own interfaces are never touched. Needs root.

Example:
    >>> available() is None or "root" in available() or "failed" in available()
    True
"""

from __future__ import annotations

import os
import secrets
import subprocess

from aiinfra.errors import AiinfraError


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS``; raise AiinfraError naming the command when it fails and ``check`` is set."""
    try:
        out = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    except FileNotFoundError:
        raise AiinfraError("network namespaces need iproute2's 'ip' command (apt-get install iproute2)") from None
    if check and out.returncode != 0:
        raise AiinfraError(f"ip {' '.join(args)}: {out.stderr.strip()} (network namespaces need root)")
    return out


def ip_in(ns: str, *args: str) -> None:
    """Run a command inside namespace ``ns``; raise AiinfraError when it fails."""
    done = subprocess.run(["ip", "netns", "exec", ns, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AiinfraError(f"[{ns}] {' '.join(args)}: {done.stderr.strip()}")


def available() -> str | None:
    """None when namespaces can be made here, else why not (for a test's message)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"aiprobe{secrets.token_hex(3)}"
    done = ip("netns", "add", probe, check=False)
    if done.returncode != 0:
        return f"ip netns add failed: {done.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return None


def sweep(netns_prefix: str, bridge_prefix: str | None = None) -> list[str]:
    """Delete namespaces (and host bridges) whose names start with the prefixes; returns what went."""
    gone = []
    for line in ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(netns_prefix):
            ip("netns", "delete", name, check=False)
            gone.append(name)
    if bridge_prefix:
        for line in ip("-o", "link", "show", "type", "bridge", check=False).stdout.splitlines():
            name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
            if name.startswith(bridge_prefix):
                ip("link", "delete", name, check=False)
                gone.append(name)
    return gone
