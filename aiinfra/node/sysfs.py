"""Reading a sysfs tree that may not be what the kernel writes.

``--sysfs-root`` can point anywhere, and a broken container can show a damaged
/sys; every read here is bounded and every surprise the kernel could not have
made (a symlink loop, a port directory whose name is no number) is a
:class:`SysfsError` naming the path: bad input, exit code 2.

Example:
    >>> from pathlib import Path
    >>> numbered(Path("tests/fixtures/sysfs/a800-ib/sys/class/infiniband/mlx5_2/ports"))
    [1]
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from aiinfra.errors import UsageError

MAX_ATTRIBUTE = 64 * 1024
"""sysfs attributes are at most a page; reading stops well past that."""
_NUMBER = re.compile(r"[0-9]{1,9}")


class SysfsError(UsageError):
    """A sysfs tree no kernel writes (a symlink loop, a non-numeric port or GID entry, a malformed GID)."""


def read(path: Path) -> str:
    """The stripped text of an attribute file; '' when it is absent, unreadable or not a regular file.

    Example:
        >>> read(Path("tests/fixtures/sysfs/a800-ib/sys/class/infiniband/mlx5_2/ports/1/state"))
        '4: ACTIVE'
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return ""  # a FIFO or device node could block or never end
        with open(path, "rb") as f:
            return f.read(MAX_ATTRIBUTE).decode("utf-8", errors="replace").strip()
    except (OSError, ValueError):
        return ""


def resolve(path: Path) -> Path:
    """``path`` with every symlink followed; a loop is a SysfsError.

    Example:
        >>> resolve(Path("tests/fixtures/sysfs/a800-ib/sys/bus/pci/devices/0000:1a:00.0")).name
        '0000:1a:00.0'
    """
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # RuntimeError: Python < 3.13 on a loop
        raise SysfsError(f"{path}: cannot follow its symlinks (a loop, or too deep)") from None


def entries(directory: Path) -> list[Path]:
    """The entries of a directory, sorted; [] when it is absent.

    Example:
        >>> [p.name for p in entries(Path("tests/fixtures/sysfs/h200-vm/sys/class/net"))]
        ['eth0', 'ifb0', 'ifb1', 'lo']
    """
    try:
        if not directory.is_dir():
            return []
        return sorted(directory.iterdir())
    except OSError as exc:
        raise SysfsError(f"{directory}: cannot list ({exc.strerror or exc})") from None


def numbered(directory: Path) -> list[int]:
    """The numbers naming the entries of ``directory`` (ports/, gids/), ascending.

    Any other name is a SysfsError: the kernel names these entries with ASCII digits only.
    """
    out = []
    for entry in entries(directory):
        if not _NUMBER.fullmatch(entry.name):
            raise SysfsError(f"{entry}: expected a number as the name (the kernel writes only those here)")
        out.append(int(entry.name))
    return sorted(out)
