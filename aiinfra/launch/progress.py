"""A one-line live view of a cluster coming up, for notebooks and terminals.

Example:
    >>> aiinfra.launch("clusters/a800-ib.yaml", workers=4, progress=ConsoleProgress())  # doctest: +SKIP
"""

from __future__ import annotations

import time

from rich.console import Console

from aiinfra.launch.protocol import ClusterStatus


class ConsoleProgress:
    """Prints a status line each time the cluster's state changes (on stderr)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._last = ""
        self._start = time.monotonic()

    def __call__(self, status: ClusterStatus) -> None:
        line = f"{status.name}: {status.state}, {status.workers_joined}/{status.workers_wanted} workers"
        if status.reasons:
            line += f" ({status.reasons[0]})"
        if line != self._last:
            self.console.print(f"[{time.monotonic() - self._start:5.1f}s] {line}", highlight=False)
            self._last = line
