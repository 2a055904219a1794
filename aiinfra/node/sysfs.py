"""Reading sysfs attributes: small text files that may be missing, unreadable or garbled.

Every node-side reader goes through here, so a missing file is "" rather than an exception
and a pathological file (a FIFO, a huge file) cannot hang or exhaust a node check.

Example:
    >>> read_attr("tests/fixtures/does-not-exist")
    ''
"""

from __future__ import annotations

from pathlib import Path

_MAX_ATTR_BYTES = 64 * 1024
"""sysfs attributes are at most a page; anything longer is not an attribute."""


def read_attr(path: str | Path) -> str:
    """The stripped text of one attribute, or "" when it cannot be read.

    Example:
        >>> read_attr("pyproject.toml").startswith("[build-system]")
        True
    """
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_ATTR_BYTES)
    except (OSError, ValueError):
        return ""
    return data.decode("utf-8", errors="replace").strip()


def read_int(path: str | Path, default: int) -> int:
    """An integer attribute (decimal, or 0x hex), ``default`` when missing or not a number.

    Example:
        >>> read_int("tests/fixtures/does-not-exist", -1)
        -1
    """
    try:
        return int(read_attr(path), 0)
    except ValueError:
        return default
