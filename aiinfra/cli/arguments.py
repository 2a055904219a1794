"""Argument types shared by commands: each refuses a bad value with argparse's own exit 2.

Kubernetes names follow RFC 1123 (DNS-1123): a namespace is a label (at most 63
of a-z, 0-9 and '-', alphanumeric at both ends); a RayCluster name is used as a
label too (KubeRay derives Service names from it), so the same rule applies.

Files and folders a command writes go through :func:`output_dir` / :func:`output_file` (the
argument types: refused at parse time when the path cannot be one) and :func:`write_files` /
:func:`write_file` (atomic writes; an OS error becomes a UsageError naming the option).

Example:
    >>> listen_address(":9835")
    ('0.0.0.0', 9835)
    >>> dns_label("demo-1")
    'demo-1'
    >>> worker_count("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a whole number from 1 to 10000, not '0'
"""

from __future__ import annotations

import argparse
import math
import os
import re
import tempfile
from pathlib import Path

from aiinfra.errors import UsageError

MAX_WORKERS = 10_000
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def dns_label(value: str) -> str:
    """A Kubernetes name that must be an RFC 1123 label (namespaces, cluster names)."""
    if not _LABEL.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value[:80]!r} is not a Kubernetes name: at most 63 characters of a-z, 0-9 and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def worker_count(value: str) -> int:
    """Worker replicas: 1..10000."""
    if not re.fullmatch(r"[0-9]{1,6}", value.strip()) or not 1 <= int(value) <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_WORKERS}, not {value[:40]!r}")
    return int(value)


def node_count(value: str) -> int:
    """Simulated nodes: 1..10000."""
    if not re.fullmatch(r"[0-9]{1,6}", value.strip()) or not 1 <= int(value) <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_WORKERS}, not {value[:40]!r}")
    return int(value)


def positive_seconds(value: str) -> float:
    """A timeout: a finite number of seconds above zero."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {value[:40]!r}")
    return seconds


def listen_address(value: str) -> tuple[str, int]:
    """``[HOST]:PORT`` with PORT 1..65535; an empty HOST means every interface (0.0.0.0)."""
    host, sep, port = value.rpartition(":")
    if not sep or not re.fullmatch(r"[0-9]{1,5}", port) or not 1 <= int(port) <= 65535 or any(
        ch.isspace() or ch == "\x00" for ch in host
    ):
        raise argparse.ArgumentTypeError(f"expected [HOST]:PORT with PORT from 1 to 65535, not {value[:80]!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(".")


def _writable_place(value: str, what: str) -> Path:
    """``value`` as a path whose nearest existing ancestor is a folder this process may write into."""
    if not value or "\x00" in value:
        raise argparse.ArgumentTypeError(f"{value[:80]!r} is not a path")
    path = Path(value)
    ancestor = _nearest_existing(path.parent if what == "file" else path)
    if ancestor != path and not ancestor.is_dir():
        raise argparse.ArgumentTypeError(f"{value[:200]}: {ancestor} is not a directory")
    if ancestor != path and not os.access(ancestor, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{value[:200]}: cannot write in {ancestor}")
    return path


def output_dir(value: str) -> Path:
    """A folder to write files into: an existing folder, or one that can be made (not an existing file)."""
    path = _writable_place(value, "dir")
    if os.path.lexists(path) and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value[:200]}: exists and is not a directory")
    return path


def output_file(value: str) -> Path:
    """A file to write (replaced when it exists): not a folder, in a folder that exists or can be made."""
    path = _writable_place(value, "file")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value[:200]}: is a directory, expected a file name")
    return path


def write_file(path: Path, text: str, option: str) -> Path:
    """Write ``path`` through a temporary file and a rename, so a reader never sees half a file.

    Any OS error becomes a UsageError (exit 2) naming ``option``.

    Example:
        >>> write_file(Path(tempfile.mkdtemp()) / "x.yaml", "a: 1\\n", "-o").read_text()
        'a: 1\\n'
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
        ) as f:
            tmp = Path(f.name)
            try:
                f.write(text)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # what a plain open() would have made, not mkstemp's 0600
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write there ({exc.strerror or exc})") from None
    return path


def write_files(directory: Path, files: dict[str, str], option: str) -> list[Path]:
    """Write each ``name: text`` of ``files`` into ``directory`` with :func:`write_file`; the paths written.

    Example:
        >>> [p.name for p in write_files(Path(tempfile.mkdtemp()), {"a.yaml": "a: 1\\n"}, "-o")]
        ['a.yaml']
    """
    if os.path.lexists(directory) and not directory.is_dir():
        raise UsageError(f"{option} {directory}: exists and is not a directory")
    return [write_file(directory / name, text, option) for name, text in files.items()]


def register(sub: argparse._SubParsersAction) -> None:
    """Not a command: nothing to register."""
