"""Ray's state API as both backends read it: the nodes a cluster's head knows, over HTTP,
without joining the cluster from this process.

Example:
    >>> ray_nodes("http://127.0.0.1:9") is None  # nothing listens on the discard port
    True
"""

from __future__ import annotations

import importlib.metadata
import json
import urllib.request
from typing import Any

from aiinfra.definition.versions import client_mismatch
from aiinfra.errors import UsageError


def ray_nodes(
    dashboard_url: str, headers: dict[str, str] | None = None, timeout_s: float = 5
) -> list[dict[str, Any]] | None:
    """Rows of ``/api/v0/nodes`` (node_id, state, is_head_node, resources_total, ...); None when unreachable.

    Example:
        >>> ray_nodes("http://127.0.0.1:9", {"Authorization": "Bearer x"}, timeout_s=1) is None
        True
    """
    req = urllib.request.Request(f"{dashboard_url}/api/v0/nodes?limit=1000", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            rows = json.load(resp)["data"]["result"]["result"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else None


def served_ray_version(dashboard_url: str, headers: dict[str, str] | None = None, timeout_s: float = 5) -> str | None:
    """The Ray version a cluster's head runs (its dashboard's ``/api/version``); None when unreachable.

    Example:
        >>> served_ray_version("http://127.0.0.1:9", timeout_s=1) is None
        True
    """
    req = urllib.request.Request(f"{dashboard_url}/api/version", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return str(json.load(resp)["ray_version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_client_ray(cluster_ray: str | None, where: str) -> str | None:
    """Raise UsageError when this machine's Ray cannot talk to a cluster running ``cluster_ray``.

    Returns the warning where only some paths work (job submission does, a driver joining does
    not), None where they agree or either side is unknown.

    Example:
        >>> check_client_ray("1.13.0", "cluster 'old'")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        aiinfra.errors.UsageError: cluster 'old': this machine runs Ray ..., the cluster Ray 1.13.0: ...
    """
    if not cluster_ray:
        return None
    try:
        client = importlib.metadata.version("ray")
    except importlib.metadata.PackageNotFoundError:
        return None  # nothing here speaks Ray's protocols; job submission goes over HTTP
    found = client_mismatch(client, cluster_ray)
    if found and found[0] == "error":
        raise UsageError(f"{where}: {found[1]}")
    return f"{where}: {found[1]}" if found else None
