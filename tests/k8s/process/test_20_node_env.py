"""Inside jobs on the shared RoCE cluster: the node-refined NCCL environment reaches plain scripts, and
aiinfra.train.fit orders ranks by leaf from the mounted fabric-label ConfigMap.

Each process node has its own sysfs/procfs tree (aiinfra.sim.node_tree, from clusters/roce.yaml): four
RoCE v2 rails whose IPv4-mapped GID sits at index 3. The worker pods' start command exports what
``aiinfra nccl env`` derives from it before ``ray start``, so with ``gid_index: auto`` even a script that
never imports aiinfra gets NCCL_IB_GID_INDEX.
"""

from __future__ import annotations

import json

import pytest

from tests.k8s.process.conftest import DEFINITION, NAME, ROOT

pytestmark = pytest.mark.timeout(1800)
JOBS = ROOT / "tests" / "k8s" / "process" / "jobs"
NOT_EXPORTED = "node NCCL environment not exported"


def _run(cluster, entrypoint: str, marker: str) -> tuple[dict, str]:
    job = cluster.submit(entrypoint, working_dir=str(JOBS))
    text = "\n".join(job.logs(follow=True))
    assert job.wait(timeout=900) == "SUCCEEDED", text[-3000:]
    line = next((x for x in text.splitlines() if x.startswith(marker + " ")), None)
    assert line is not None, text[-3000:]
    return json.loads(line.split(" ", 1)[1]), text


def _node_envs(proc_sim) -> dict[str, dict[str, str]]:
    """What aiinfra.nccl.node_env derives from each process node's tree (no NVML in a pod, as here)."""
    from aiinfra.definition import load_definition
    from aiinfra.nccl.node_env import as_dict, node_env
    from aiinfra.node.discovery import discover_node
    from aiinfra.node.gpu import NoNvml

    d = load_definition(DEFINITION)
    trees = sorted((proc_sim.state_dir / "nodes").iterdir())
    assert len(trees) == 2, trees
    return {t.name: as_dict(node_env(d, discover_node(t, nvml=NoNvml()))) for t in trees}


def test_plain_script_sees_the_node_refined_nccl_env(ray_cluster, proc_sim, pkube):
    seen, text = _run(ray_cluster, "python nccl_env_plain.py", "NCCL_ENV")
    expected = _node_envs(proc_sim)
    assert sorted(seen) == sorted(expected), seen  # one GPU task on each worker's node
    for node, env in seen.items():
        assert env["NCCL_IB_GID_INDEX"] == "3"  # gid_index auto: the RoCE v2 IPv4 GID of the node's tree
        assert env["NCCL_IB_HCA"] == "=mlx5_0:1,mlx5_1:1,mlx5_2:1,mlx5_3:1"
        assert env["NCCL_SOCKET_IFNAME"] == "=eth0" and env["NCCL_IB_TC"] == "106"
        # Exactly the node's environment: a pinned GID index drops NCCL's own selection the pod declared.
        assert env == expected[node], node
    assert "node-level NCCL environment unavailable" not in text
    pods = pkube.core.list_namespaced_pod("default", label_selector=f"ray.io/cluster={NAME},ray.io/node-type=worker")
    for pod in pods.items:
        log = pkube.core.read_namespaced_pod_log(pod.metadata.name, "default", container="ray-worker")
        assert NOT_EXPORTED not in log, log[-2000:]


def test_fit_over_2x8_gpus_orders_ranks_by_leaf(ray_cluster, pkube):
    out, text = _run(ray_cluster, "python fit_rank_map.py 16", "RANK_MAP")
    assert out["world"] == 16 and out["backend"] == "gloo", out  # fake GPUs: gloo, GPU resources still held
    assert out["nccl_env"]["NCCL_IB_GID_INDEX"] == "3"
    pods = pkube.core.list_namespaced_pod("default", label_selector=f"ray.io/cluster={NAME},ray.io/node-type=worker")
    nodes = {n.metadata.name: n.metadata.labels for n in pkube.core.list_node().items}
    leaf_of_ip = {p.status.pod_ip: nodes[p.spec.node_name]["topology.aiinfra.io/leaf"] for p in pods.items}
    assert len(set(leaf_of_ip.values())) == 2, leaf_of_ip  # the two workers are on different leaves
    ranks = [out["ranks"][str(r)] for r in range(16)]
    # Each rank's leaf is its Kubernetes node's label, read from the mounted ConfigMap inside the job.
    assert all(r["leaf"] == leaf_of_ip[r["ip"]] for r in ranks), ranks
    order = [r["leaf"] for r in ranks]
    assert order[:8] == [order[0]] * 8 and order[8:] == [order[8]] * 8 and order[0] != order[8], order
