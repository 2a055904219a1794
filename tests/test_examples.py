"""Every example in examples/ runs, as a user would run it (KubeRay-samples style).

examples/train_ddp.py runs inside tests/test_local_e2e.py as a submitted job;
examples/launch_sim.py runs in tests/k8s/test_examples_k8s.py; examples/train_checkpoint.py runs here
(one simulated failure) and in tests/k8s/process/test_50_fault_tolerance.py (a worker pod killed).
"""

from __future__ import annotations

import os
import re
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
        cwd=ROOT, env={**os.environ, "RAY_DEDUP_LOGS": "0"}, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "simulated failure in epoch 2" in out
    # Epoch 1's checkpoint, in the storage given, is where the restarted workers began.
    assert f"resumed from checkpoint {storage}/ft/checkpoint_" in out and "(epoch 1)" in out, out[-3000:]
    assert "epoch 3/3" in out and "done: epoch 3" in out
    # Ray forwards each worker's output on its own, so lines of different workers interleave in any order;
    # judge per worker: the first group trained epoch 1, the workers that resumed never trained it again.
    lines = _lines_by_worker(out)
    resumed = {pid for pid, text in lines if "resumed from checkpoint" in text}
    first = {pid for pid, text in lines if "epoch 1/3" in text}
    assert resumed and first and not resumed & first, (resumed, first)


def _lines_by_worker(out: str) -> list[tuple[str, str]]:
    """(pid, text) for every line Ray prefixed with its worker, colour codes removed."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    return re.findall(r"^\((?:\w+) pid=(\d+)(?:, ip=[^)]*)?\) (.*)$", plain, flags=re.MULTILINE)
