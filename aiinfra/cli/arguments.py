"""Argument types shared by commands: each refuses a bad value with argparse's own exit 2.

Kubernetes names follow RFC 1123 (DNS-1123): a namespace is a label (at most 63
of a-z, 0-9 and '-', alphanumeric at both ends); a RayCluster name is used as a
label too (KubeRay derives Service names from it), so the same rule applies.

Example:
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
import re

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


def register(sub: argparse._SubParsersAction) -> None:
    """Not a command: nothing to register."""
