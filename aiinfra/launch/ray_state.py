"""Ray's state API as both backends read it: the nodes a cluster's head knows, over HTTP,
without joining the cluster from this process.

Example:
    >>> ray_nodes("http://127.0.0.1:9") is None  # nothing listens on the discard port
    True
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any


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
