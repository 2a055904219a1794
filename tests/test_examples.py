"""Every example in examples/ runs, as a user would run it (KubeRay-samples style).

examples/train_ddp.py runs inside tests/test_local_e2e.py as a submitted job;
examples/launch_sim.py runs in tests/k8s/test_examples_k8s.py; examples/train_checkpoint.py runs here
(one simulated failure) and in tests/k8s/process/test_50_fault_tolerance.py (a worker pod killed).
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


def test_train_checkpoint_example_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    storage = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "examples/train_checkpoint.py", "--workers", "2", "--epochs", "3", "--fail-at-epoch", "2",
         "--storage-path", str(storage), "--name", "ft"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "simulated failure in epoch 2" in out
    # Epoch 1's checkpoint, in the storage given, is where the restarted workers began.
    assert f"resumed from checkpoint {storage}/ft/checkpoint_" in out and "(epoch 1)" in out, out[-3000:]
    assert "epoch 3/3" in out and "done: epoch 3" in out
    assert "epoch 1/3" in out.split("resumed from checkpoint")[0] and "epoch 1/3" not in out.split("resumed")[1]
