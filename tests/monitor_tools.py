"""Find the monitoring tools the tests run: $AIINFRA_MONITOR_TOOLS first (built by `make monitor-tools`), then PATH."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def tool(name: str, *aliases: str) -> str:
    """Path of a tool (e.g. promtool), or skip the test with the reason."""
    tools_dir = os.environ.get("AIINFRA_MONITOR_TOOLS")
    for candidate in (name, *aliases):
        if tools_dir and (Path(tools_dir) / candidate).is_file():
            return str(Path(tools_dir) / candidate)
    for candidate in (name, *aliases):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.skip(
        f"{name} not found in $AIINFRA_MONITOR_TOOLS or PATH (make monitor-tools, or apt-get install prometheus)"
    )
