"""End to end on process-backed simulator nodes: launch -> Ray joins with GPUs -> submit -> logs -> down.

The simulator here has no KWOK nodes, only 2 process-backed ones (one per leaf), whose pods the node
agent really runs with the local Ray. One RayCluster is shared by the tests in file order; the last
one tears it down from a new process and checks nothing is left. Needs root (namespaces) and the
built tools: without them the module is skipped with the reason, except in CI, where that fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.k8s.conftest import require_tools

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "clusters" / "a800-ib.yaml"
NAME = "procnodes"
IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")
# Real Ray in 3 pods on 2 shared cores: starting the cluster and a training job take minutes each.
pytestmark = pytest.mark.timeout(1800)


def _require_root() -> None:
    reason = "process-backed nodes need root (network, mount and PID namespaces per pod)"
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail(f"CI: {reason}", pytrace=False)
        pytest.skip(reason)


def _leftovers(state: Path, sim: str) -> dict[str, list[str]]:
    """Namespaces and pod processes of this simulator that still exist."""
    from aiinfra.netns.pods import NETNS_PREFIX

    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    netns = [line.split()[0] for line in listing.splitlines() if line.startswith(f"{NETNS_PREFIX}{sim}-")]
    procs = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(state / "pods") in cmd:
                procs.append(f"{entry.name}: {cmd[:120]}")
    return {"netns": netns, "processes": procs}


@pytest.fixture(scope="module")
def proc_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    require_tools()
    _require_root()
    from aiinfra import sim
    from aiinfra.netns.pods import PodNet, sim_id

    state = tmp_path_factory.mktemp("procsim")
    old = os.environ.get("KUBECONFIG")
    try:
        cluster = sim.up(DEFINITION, nodes=0, process_nodes=2, nodes_per_leaf=1, state_dir=state)
        os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
        yield cluster
    finally:
        if old is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = old
        try:
            sim.down(state)
        finally:
            PodNet(sim_id(state)).sweep()  # whatever a failed run left


@pytest.fixture(scope="module")
def pkube(proc_sim):
    """A client of this module's simulator (conftest's ``kube`` is the shared KWOK one)."""
    from aiinfra.k8s.client import Kube

    return Kube(kubeconfig=proc_sim.kubeconfig)


@pytest.fixture(scope="module")
def ray_cluster(proc_sim) -> Iterator:
    import aiinfra

    cluster = aiinfra.launch(DEFINITION, workers=2, name=NAME, timeout=900, progress=None)
    try:
        yield cluster
    finally:
        try:
            cluster.down()
        except Exception:
            pass


def test_ready_only_after_both_workers_joined_ray_with_8_gpus(ray_cluster):
    st = ray_cluster.status()
    assert st.ready and st.workers_joined == 2, st
    from aiinfra.launch.ray_state import ray_nodes

    url, headers = ray_cluster.backend.dashboard()  # the token the cluster's auth asks for
    rows = ray_nodes(url, headers, timeout_s=300)  # a loaded machine
    assert rows is not None, f"the Ray state API at {url} did not answer"
    workers = [n for n in rows if not n["is_head_node"] and n["state"] == "ALIVE"]
    assert len(workers) == 2
    assert all(float(n["resources_total"]["GPU"]) == 8 for n in workers)
    # Each worker is its own pod with its own address on the simulator's bridge.
    assert len({n["node_ip"] for n in rows}) == 3


def test_pod_logs_and_status_come_from_the_node_agent(ray_cluster, pkube):
    pods = pkube.core.list_namespaced_pod("default", label_selector=f"ray.io/cluster={NAME}").items
    assert len(pods) == 3
    for pod in pods:
        assert pod.status.phase == "Running" and pod.status.pod_ip.startswith("10.245.")
        assert all(c.ready for c in pod.status.container_statuses)
        if pod.metadata.labels["ray.io/node-type"] == "worker":
            assert pod.status.init_container_statuses[0].state.terminated.exit_code == 0
    head = next(p for p in pods if p.metadata.labels["ray.io/node-type"] == "head")
    log = pkube.core.read_namespaced_pod_log(head.metadata.name, "default", container="ray-head")
    assert "Ray runtime started" in log


def test_submit_train_ddp_succeeds_and_logs_stream(ray_cluster):
    job = ray_cluster.submit("python examples/train_ddp.py --workers 2 --epochs 2", working_dir=str(ROOT))
    lines = []
    for line in job.logs(follow=True):
        lines.append(line)
    text = "\n".join(lines)
    assert job.wait(timeout=600) == "SUCCEEDED", text[-3000:]
    assert "epoch 2/2" in text and "backend gloo" in text, text[-3000:]


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
