"""The locked-memory limit: RDMA pins (registers) memory, which counts against RLIMIT_MEMLOCK.

Read from ``<root>/proc/self/limits`` ('Max locked memory', the layout of fs/proc/base.c) and
``<root>/proc/self/status`` (``CapEff``). A process with CAP_IPC_LOCK may pin past the limit (the
kernel's ib_umem_get checks the capability first), so then the limit does not matter; otherwise the
soft limit must be unlimited, as ``docker run --ulimit memlock=-1`` and NVIDIA's container guides set
it and aiinfra's worker pods do (``ulimit -l unlimited`` plus IPC_LOCK). A smaller limit makes
``ibv_reg_mr`` fail ("Couldn't allocate MR", ``Cannot allocate memory``) once NCCL registers its buffers.

Run by ``aiinfra node check`` inside a worker pod, this judges that pod. In the exporter it reads the
exporter's own process: the container runtime's default (the exporter has no IPC_LOCK), i.e. what a
pod gets that neither raises the limit nor adds IPC_LOCK.

Example:
    >>> parse_memlock("Max locked memory         8388608              8388608              bytes")
    (8388608, 8388608)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from aiinfra.definition.model import ClusterDefinition
from aiinfra.findings import Finding
from aiinfra.node.checks import node_check, uses_rdma
from aiinfra.node.discovery import NodeInventory
from aiinfra.node.sysfs import read

CAP_IPC_LOCK = 14
UNLIMITED = -1
_ROW = re.compile(r"^Max locked memory\s+(unlimited|[0-9]{1,20})\s+(unlimited|[0-9]{1,20})\s+bytes\s*$", re.M)
_CAP_EFF = re.compile(r"^CapEff:\s*([0-9a-fA-F]{1,16})\s*$", re.M)
_ACTION = (
    "run `ulimit -l unlimited` before the job starts and add the IPC_LOCK capability to the pod "
    "(aiinfra's worker pods do both); where the hard limit is low, give the container runtime "
    "LimitMEMLOCK=infinity (a systemd drop-in for containerd)"
)


@node_check("memlock", order=60)
def _registered(inv: NodeInventory, d: ClusterDefinition | None, environ: Mapping[str, str]) -> list[Finding]:
    return check_memlock(inv, d)


def parse_memlock(limits: str) -> tuple[int, int] | None:
    """(soft, hard) 'Max locked memory' in bytes from a /proc/<pid>/limits text, -1 for unlimited; None if absent.

    Example:
        >>> parse_memlock("Max locked memory         unlimited            unlimited            bytes")
        (-1, -1)
    """
    m = _ROW.search(limits)
    if m is None:
        return None
    soft, hard = (UNLIMITED if v == "unlimited" else int(v) for v in m.groups())
    return soft, hard


def has_ipc_lock(status: str) -> bool | None:
    """Whether CapEff of a /proc/<pid>/status text holds CAP_IPC_LOCK; None when there is no CapEff line.

    Example:
        >>> has_ipc_lock("CapEff:\\t00000000a80465fb"), has_ipc_lock("CapEff:\\t00000000a80425fb")
        (True, False)
    """
    m = _CAP_EFF.search(status)
    return None if m is None else bool(int(m.group(1), 16) >> CAP_IPC_LOCK & 1)


def check_memlock(inv: NodeInventory, d: ClusterDefinition | None) -> list[Finding]:
    """An error when RDMA is in use, the memlock soft limit is not unlimited and IPC_LOCK is missing.

    Example:
        >>> from aiinfra.definition import load_definition
        >>> from aiinfra.node.checks.example_nodes import fixture_node
        >>> check_memlock(fixture_node("a800-ib"), load_definition("clusters/a800-ib.yaml"))
        []
    """
    if not uses_rdma(inv, d):
        return []
    proc = Path(inv.sysfs_root) / "proc" / "self"
    limits = parse_memlock(read(proc / "limits"))
    if limits is None:
        return [Finding("memlock-unknown", "info", "process", f"no 'Max locked memory' in {proc / 'limits'}",
                        "mount /proc (the exporter: --path.procfs) to have the limit checked")]  # fmt: skip
    soft, hard = limits
    if soft == UNLIMITED or has_ipc_lock(read(proc / "status")):
        return []
    shown = ", ".join(f"{k} {_human(v)}" for k, v in (("soft", soft), ("hard", hard)))
    return [
        Finding(
            "memlock-limited",
            "error",
            "process",
            f"locked memory is limited ({shown}) and the process lacks IPC_LOCK: "
            "RDMA memory registration (ibv_reg_mr) fails once NCCL pins its buffers",
            _ACTION,
        )
    ]


def _human(n: int) -> str:
    if n == UNLIMITED:
        return "unlimited"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"
