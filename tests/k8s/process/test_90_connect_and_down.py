"""Last of the package: connect from a new process, down(), and nothing is left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.k8s.process.conftest import NAME, ROOT, _leftovers

# Real Ray in 3 pods on 2 shared cores: starting the cluster and a training job take minutes each.
pytestmark = pytest.mark.timeout(1800)


def test_connect_from_a_new_process_then_down_leaves_nothing(ray_cluster, proc_sim, pkube):
    from aiinfra.netns.pods import sim_id

    code = f"import aiinfra; c = aiinfra.connect({NAME!r}); print(c.status().state); c.down()"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert pkube.core.list_namespaced_pod("default", label_selector=f"ray.io/cluster={NAME}").items == []
    deadline = time.monotonic() + 30
    left = _leftovers(proc_sim.state_dir, sim_id(proc_sim.state_dir))
    while any(left.values()) and time.monotonic() < deadline:
        time.sleep(1)
        left = _leftovers(proc_sim.state_dir, sim_id(proc_sim.state_dir))
    assert left == {"netns": [], "processes": []}
    forwards = pkube.custom.list_namespaced_custom_object("kwok.x-k8s.io", "v1alpha1", "default", "portforwards")
    assert forwards["items"] == []
