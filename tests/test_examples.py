"""Every example in examples/ runs, as a user would run it (KubeRay-samples style).

examples/train_ddp.py runs inside tests/test_local_e2e.py as a submitted job;
examples/launch_sim.py runs in tests/k8s/test_examples_k8s.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.ray


def test_launch_local_example(tmp_path: Path) -> None:
    env = {**os.environ, "AIINFRA_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, "examples/launch_local.py", "--name", "example-local"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SUCCEEDED" in proc.stdout
    assert "loss" in proc.stdout
    assert "example-local: down" in proc.stdout
