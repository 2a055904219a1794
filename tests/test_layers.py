"""Node-side code runs on a bare node: importing it pulls in neither Ray, torch nor the
Kubernetes client (import-linter checks the static imports; this checks what really loads)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COLLECTORS = str(ROOT / "aiinfra" / "monitor" / "exporter" / "collectors")

NODE_SIDE = [
    "aiinfra.node.discovery",
    "aiinfra.node.checks",
    "aiinfra.nccl.node_env",
    "aiinfra.nccl.log",
    "aiinfra.definition",
    "aiinfra.net.netplan",
    "aiinfra.net.host_apply",
    "aiinfra.net.host_verify",
    "aiinfra.cli.net.host",
    # The metrics exporter (DaemonSet on every GPU node), the module behind the ``aiinfra-exporter``
    # console script, and every collector (imported by the exporter at run time, so named here).
    "aiinfra.monitor.exporter.exporter",
    "aiinfra.cli.exporter",
    pytest.param(", ".join(f"aiinfra.monitor.exporter.collectors.{m.name}" for m in pkgutil.iter_modules([COLLECTORS])),
                 id="aiinfra.monitor.exporter.collectors.*"),
]
HEAVY = ("ray", "torch", "kubernetes")


def heavy_modules_after_import(module: str) -> list[str]:
    """Top-level heavy packages loaded after ``import module`` (one name or several, comma-separated)
    in a fresh interpreter."""
    code = f"import sys, json, {module}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return [m for m in json.loads(out.stdout) if m in HEAVY]


@pytest.mark.parametrize("module", NODE_SIDE)
def test_node_side_module_loads_no_heavy_client(module: str) -> None:
    assert heavy_modules_after_import(module) == []


def test_the_check_can_fail() -> None:
    assert "ray" in heavy_modules_after_import("aiinfra.train.backend")
