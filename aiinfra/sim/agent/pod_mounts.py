"""The pod's view of the filesystem, set up by the sandbox in the pod's private mount namespace.

The node's generated hardware (aiinfra.sim.node_tree) at /sys and over the few /proc files discovery
reads, the pod's volumes at their absolute paths (binds, memory-backed tmpfs for ``/dev/shm``), the
pod's ``/etc/hosts`` and ``/etc/resolv.conf``, its hostname, and a private ``/tmp`` that still shows
the image paths below it. Like :mod:`.sandbox`, which imports it as a sibling when run as a script,
this module imports nothing but the standard library.

Example:
    >>> plan = {"mounts": [{"kind": "tmpfs", "target": "/dev/shm", "size": "1g"}]}
    >>> mount(plan)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import socket
import subprocess
from typing import Any

# What a container needs from the real /sys besides the node's hardware: cgroup limits (Ray, torch),
# CPU topology (glibc, psutil) and kernel settings. The rest of /sys comes from the node tree.
HOST_SYS = ("fs/cgroup", "devices/system", "kernel")
# Only the /proc entries node discovery reads: the pod keeps its own /proc (PID namespace) for Ray and psutil.
TREE_PROC = ("driver", "sys/kernel/osrelease")


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def present_node(tree: str) -> None:
    """Show the node's generated hardware where a container sees the host's: its ``sys/`` read-only at /sys
    (with the host parts above carried in), and the files of ``TREE_PROC`` over the pod's own /proc."""
    for rel in HOST_SYS:
        if os.path.isdir(f"/sys/{rel}"):
            os.makedirs(f"{tree}/sys/{rel}", exist_ok=True)
            _mount("--rbind", f"/sys/{rel}", f"{tree}/sys/{rel}")  # seen in this mount namespace only
    _mount("--rbind", f"{tree}/sys", "/sys")
    _mount("-o", "remount,bind,ro", "/sys")
    for rel in TREE_PROC:
        if os.path.exists(f"{tree}/proc/{rel}") and os.path.exists(f"/proc/{rel}"):
            _mount("--bind", f"{tree}/proc/{rel}", f"/proc/{rel}")


def mount(plan: dict[str, Any]) -> None:
    """The node's /sys, volumes, /etc/hosts and a private /tmp, in this (private) mount namespace.

    A failing mount(8) raises :class:`subprocess.CalledProcessError` (the sandbox reports it as MountFailed).
    """
    run = _mount
    if plan.get("node_tree"):
        present_node(plan["node_tree"])
    for m in plan.get("mounts", []):
        os.makedirs(m["target"], exist_ok=True)
        if m["kind"] == "tmpfs":
            run("-t", "tmpfs", "-o", f"size={m.get('size') or '64m'},mode=1777", "tmpfs", m["target"])
        else:
            run("--bind", m["source"], m["target"])
            if m.get("readonly"):
                run("-o", "remount,bind,ro", m["target"])
    if plan.get("hosts_file"):
        run("--bind", plan["hosts_file"], "/etc/hosts")
    if plan.get("resolv_file"):  # no DNS server: names resolve from /etc/hosts, others fail at once
        run("--bind", plan["resolv_file"], "/etc/resolv.conf")
    if plan.get("hostname"):
        socket.sethostname(plan["hostname"])  # its own UTS namespace
    if plan.get("private_tmp", True):
        private_tmp(plan.get("image_paths", []))


def private_tmp(image_paths: list[str]) -> None:
    """An empty /tmp of the pod's own, still showing (read-only) the image paths that live below it."""
    kept = [p for p in image_paths if (p == "/tmp" or p.startswith("/tmp/")) and os.path.isdir(p)]
    # Held open across the cover: mount(8) binds them back through this process' descriptors (not
    # canonicalised: the descriptor's link text names the covered path, the link itself the real folder).
    held = [os.open(p, os.O_PATH | os.O_DIRECTORY) for p in kept]
    _mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", "/tmp")
    for path, fd in zip(kept, held, strict=True):
        os.makedirs(path, exist_ok=True)
        _mount("--no-canonicalize", "--bind", f"/proc/{os.getpid()}/fd/{fd}", path)
        _mount("-o", "remount,bind,ro", path)
        os.close(fd)
