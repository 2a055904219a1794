"""Launch -> ready only when every worker joined Ray with its GPUs -> pod status and logs -> submit -> logs."""

from __future__ import annotations

import pytest

from tests.k8s.process.conftest import NAME, ROOT

# Real Ray in 3 pods on 2 shared cores: starting the cluster and a training job take minutes each.
pytestmark = pytest.mark.timeout(1800)


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
