"""Last of the package: connect from a new process; then examples/quickstart.ipynb, executed by nbclient,
re-attaches to the shared cluster (same name and definition), submits, reads logs and downs it; and
nothing is left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.k8s.process.conftest import DEFINITION, NAME, ROOT, _leftovers
from tests.quickstart_notebook import run_quickstart, text_of_outputs

# Real Ray in 3 pods on 2 shared cores: starting the cluster and a training job take minutes each.
pytestmark = pytest.mark.timeout(1800)


def test_connect_from_a_new_process(ray_cluster):
    code = f"import aiinfra; c = aiinfra.connect({NAME!r}); print(c.status().state, c.status().workers_joined)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["ready", "2"], done.stdout


def test_quickstart_notebook_reattaches_then_downs_and_leaves_nothing(ray_cluster, proc_sim, pkube):
    from aiinfra.netns.pods import sim_id

    # The kernel inherits KUBECONFIG (the package's simulator) from this process.
    nb = run_quickstart({"DEFINITION": str(DEFINITION), "NAME": NAME, "WORKERS": 2}, timeout_s=1200)
    text = text_of_outputs(nb)
    assert f"re-attached to Cluster(name='{NAME}'" in text, text[-3000:]
    assert f"{NAME}: ready, 2/2 workers" in text, text[-3000:]  # the progress display, rendered in the notebook
    assert "epoch 2/2: loss" in text and "job SUCCEEDED" in text, text[-3000:]
    assert "down: absent" in text

    assert pkube.core.list_namespaced_pod("default", label_selector=f"ray.io/cluster={NAME}").items == []
    deadline = time.monotonic() + 30
    left = _leftovers(proc_sim.state_dir, sim_id(proc_sim.state_dir))
    while any(left.values()) and time.monotonic() < deadline:
        time.sleep(1)
        left = _leftovers(proc_sim.state_dir, sim_id(proc_sim.state_dir))
    assert left == {"netns": [], "processes": []}
    forwards = pkube.custom.list_namespaced_custom_object("kwok.x-k8s.io", "v1alpha1", "default", "portforwards")
    assert forwards["items"] == []
