"""examples/launch_sim.py (`make demo-k8s`) runs end to end and leaves nothing running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_launch_sim_example(k8s_tools: None, tmp_path: Path) -> None:
    env = {**os.environ, "AIINFRA_SIM_STATE": str(tmp_path / "sim")}
    env.pop("KUBECONFIG", None)
    proc = subprocess.run(
        [sys.executable, "examples/launch_sim.py", "--nodes", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "demo: ready, 2/2 workers ready" in proc.stdout
    assert "simulator stopped" in proc.stdout
    assert not (tmp_path / "sim" / "state.json").exists()
