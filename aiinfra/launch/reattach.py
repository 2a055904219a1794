"""Launching a name that already runs: re-attach when it is the same cluster, refuse when it is not.

A notebook's launch cell is run again and again; the cluster it made the first time is still up.
``aiinfra.launch(defn, name=X)`` then hands back that cluster when X runs the same definition (and
worker count), and otherwise refuses, naming every field that differs, so nothing is replaced silently.

Example:
    >>> definition_differences({"ray": {"workers": {"gpus": 8}}, "name": "a"},
    ...                        {"ray": {"workers": {"gpus": 4}}, "name": "a"})
    ['ray.workers.gpus: running 8, asked 4']
"""

from __future__ import annotations

from typing import Any

from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import ClusterConflict


def definition_differences(running: Any, wanted: Any, path: str = "") -> list[str]:
    """Dotted paths (``rails[2].hca``) whose values differ between two JSON-like dumps.

    Example:
        >>> definition_differences({"rails": [{"hca": "mlx5_0"}]}, {"rails": [{"hca": "mlx5_1"}]})
        ["rails[0].hca: running 'mlx5_0', asked 'mlx5_1'"]
    """
    if isinstance(running, dict) and isinstance(wanted, dict):
        out = []
        for key in sorted(set(running) | set(wanted)):
            sub = f"{path}.{key}" if path else str(key)
            out += definition_differences(running.get(key), wanted.get(key), sub)
        return out
    if isinstance(running, list) and isinstance(wanted, list) and len(running) == len(wanted):
        pairs = enumerate(zip(running, wanted, strict=True))
        return [d for i, (a, b) in pairs for d in definition_differences(a, b, f"{path}[{i}]")]
    return [] if running == wanted else [f"{path}: running {_short(running)}, asked {_short(wanted)}"]


def check_same_cluster(
    name: str, running: ClusterDefinition, running_workers: int, wanted: ClusterDefinition, workers: int | None
) -> None:
    """Raise :class:`ClusterConflict` unless ``wanted`` (and ``workers``, when given) is what runs as ``name``.

    Example:
        >>> from aiinfra.definition import load_definition
        >>> d = load_definition("clusters/local.yaml")
        >>> check_same_cluster("demo", d, 2, d, None)
        >>> check_same_cluster("demo", d, 2, d, 3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        aiinfra.errors.ClusterConflict: a cluster named 'demo' is running from another definition ...
    """
    diffs = definition_differences(running.model_dump(mode="json"), wanted.model_dump(mode="json"))
    if workers is not None and workers != running_workers:
        diffs.append(f"workers: running {running_workers}, asked {workers}")
    if diffs:
        listed = "\n  ".join(diffs)
        raise ClusterConflict(
            f"a cluster named '{name}' is running from another definition (or worker count), so launch() "
            f"does not re-attach to it:\n  {listed}\n"
            f"choose another name, or `aiinfra down {name}` first",
            diffs,
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
