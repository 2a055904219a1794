"""launch() against a real API server, the real KubeRay operator and the real scheduler
(aiinfra.sim: KWOK plays the kubelets of fake A800 nodes)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

import aiinfra
from aiinfra.errors import AiinfraError, ClusterConflict, LaunchTimeout, UsageError
from aiinfra.k8s.client import Kube
from aiinfra.k8s.raycluster import LaunchOptions, raycluster

ROOT = Path(__file__).resolve().parents[2]
A800 = ROOT / "clusters" / "a800-ib.yaml"
LEAF = "network.topology.nvidia.com/leaf"


def pods(kube: Kube, namespace: str, name: str) -> list[Any]:
    return list(kube.core.list_namespaced_pod(namespace, label_selector=f"ray.io/cluster={name}").items)


def test_launch_two_workers_then_down(sim_cluster: Any, kube: Kube, namespace: str) -> None:
    name = f"rc-{uuid.uuid4().hex[:6]}"
    cluster = aiinfra.launch(A800, workers=2, name=name, namespace=namespace, timeout=180)
    status = cluster.status()
    assert status.ready and status.state == "ready" and status.workers_joined == 2

    workers = [p for p in pods(kube, namespace, name) if p.metadata.labels["ray.io/node-type"] == "worker"]
    assert len(workers) == 2
    assert all(p.status.phase == "Running" for p in workers)
    assert len({p.spec.node_name for p in workers}) == 2, "each 8-GPU worker needs a node of its own"
    for pod in workers:
        node = kube.core.read_node(pod.spec.node_name)
        assert node.status.allocatable["nvidia.com/gpu"] == "8"
        assert node.status.allocatable["rdma/rail3"] != "0"
        c = pod.spec.containers[0]
        assert c.resources.limits["nvidia.com/gpu"] == "8"
        assert {c.resources.limits[f"rdma/rail{i}"] for i in range(4)} == {"1"}
        assert pod.metadata.annotations["k8s.v1.cni.cncf.io/networks"] == "ib-rail0,ib-rail1,ib-rail2,ib-rail3"
        env = {e.name: e.value for e in c.env}
        assert env["NCCL_IB_HCA"] == "=mlx5_2:1,mlx5_3:1,mlx5_4:1,mlx5_5:1"
        assert env["NCCL_SOCKET_IFNAME"] == "=eth0"
        assert "IPC_LOCK" in c.security_context.capabilities.add
        # KubeRay keeps our memlock step ahead of its own `ray start`.
        script = " ".join(c.args or []) + " ".join(c.command or [])
        assert "ulimit -l unlimited" in script and "ray start" in script
        assert script.index("ulimit -l unlimited") < script.index("ray start")
        shm = next(v for v in pod.spec.volumes if v.name == "dshm")
        assert shm.empty_dir.medium == "Memory"

    again = aiinfra.connect(name, namespace=namespace)
    assert again.status().workers_wanted == 2

    cluster.down()
    assert pods(kube, namespace, name) == []
    services = kube.core.list_namespaced_service(namespace, label_selector=f"ray.io/cluster={name}").items
    assert services == []


def test_keep_within_one_leaf(sim_cluster: Any, kube: Kube, namespace: str) -> None:
    name = f"leaf-{uuid.uuid4().hex[:6]}"
    cluster = aiinfra.launch(A800, workers=2, name=name, namespace=namespace, keep_within=LEAF, timeout=180)
    try:
        workers = [p for p in pods(kube, namespace, name) if p.metadata.labels["ray.io/node-type"] == "worker"]
        leaves = {kube.core.read_node(p.spec.node_name).metadata.labels[LEAF] for p in workers}
        assert len(leaves) == 1
    finally:
        cluster.down()


def test_more_workers_than_a_leaf_holds_times_out_with_the_scheduler_reason(
    sim_cluster: Any, namespace: str
) -> None:
    # 4 nodes over 2 leaves: a third worker under one leaf cannot be placed.
    name = f"big-{uuid.uuid4().hex[:6]}"
    with pytest.raises(LaunchTimeout) as info:
        aiinfra.launch(A800, workers=3, name=name, namespace=namespace, keep_within=LEAF, timeout=30)
    assert "affinity" in str(info.value)
    aiinfra.connect(name, namespace=namespace).down()


def test_more_gpus_than_any_node(sim_cluster: Any, namespace: str, tmp_path: Path) -> None:
    data = yaml.safe_load(A800.read_text())
    data["gpu"]["per_node"] = 16
    data["ray"]["workers"]["gpus"] = 16
    path = tmp_path / "a800-16.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(AiinfraError, match=r"cannot fit.*nvidia.com/gpu"):
        aiinfra.launch(path, workers=1, name="too-big", namespace=namespace, timeout=30)
    with pytest.raises(LaunchTimeout, match=r"Insufficient nvidia\.com/gpu"):
        aiinfra.launch(path, workers=1, name="too-big", namespace=namespace, timeout=30, preflight=False)
    aiinfra.connect("too-big", namespace=namespace).down()


def test_relaunch_reattaches_another_definition_is_refused_and_missing_namespace(
    sim_cluster: Any, namespace: str, tmp_path: Path
) -> None:
    cluster = aiinfra.launch(A800, workers=1, name="taken", namespace=namespace, timeout=180)
    try:
        again = aiinfra.launch(A800, workers=1, name="taken", namespace=namespace, timeout=60, progress=None)
        assert again.reattached and not cluster.reattached
        assert again.status().ready and again.definition.name == cluster.definition.name
        data = yaml.safe_load(A800.read_text())
        data["ray"]["workers"]["gpus"] = 4
        other = tmp_path / "a800-4.yaml"
        other.write_text(yaml.safe_dump(data))
        with pytest.raises(ClusterConflict) as refused:
            aiinfra.launch(other, workers=2, name="taken", namespace=namespace)
        assert refused.value.differences == ["ray.workers.gpus: running 8, asked 4", "workers: running 1, asked 2"]
        assert "aiinfra down taken" in str(refused.value)
    finally:
        cluster.down()
    with pytest.raises(UsageError, match="does not exist"):
        aiinfra.launch(A800, workers=1, name="x", namespace="no-such-namespace")


KUBERNETES = [p for p in sorted((ROOT / "clusters").glob("*.yaml")) if aiinfra.load_definition(p).backend != "local"]


@pytest.mark.parametrize("definition", KUBERNETES, ids=lambda p: p.stem)
def test_rendered_rayclusters_pass_server_side_dry_run(
    sim_cluster: Any, kube: Kube, namespace: str, definition: Path
) -> None:
    d = aiinfra.load_definition(definition)
    obj = raycluster(d, LaunchOptions(name="dry", namespace=namespace, keep_within=d.topology.labels[0]))
    served = kube.apply(obj, dry_run=True)
    assert served["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"]
    assert kube.get("ray.io/v1", "RayCluster", "dry", namespace) is None


def test_fabric_labels_are_published_for_the_pods_nodes(sim_cluster: Any, kube: Kube, namespace: str) -> None:
    import json

    name = f"fab-{uuid.uuid4().hex[:6]}"
    cluster = aiinfra.launch(A800, workers=2, name=name, namespace=namespace, timeout=180)
    try:
        cm = kube.core.read_namespaced_config_map(f"{name}-topology", namespace)
        table = json.loads(cm.data["nodes.json"])
        nodes = {p.spec.node_name for p in pods(kube, namespace, name)}
        assert set(table) == nodes
        for node, labels in table.items():
            assert labels[LEAF] == kube.core.read_node(node).metadata.labels[LEAF]
        assert cm.metadata.owner_references[0].kind == "RayCluster"
        worker = next(p for p in pods(kube, namespace, name) if p.metadata.labels["ray.io/node-type"] == "worker")
        mounts = {m.mount_path for m in worker.spec.containers[0].volume_mounts}
        assert "/etc/aiinfra/topology" in mounts
    finally:
        cluster.down()


def test_token_auth_keeps_the_token_in_a_secret(sim_cluster: Any, kube: Kube, namespace: str) -> None:
    import base64

    cluster = aiinfra.launch(A800, workers=1, name="tok", namespace=namespace, timeout=180)
    try:
        secret = kube.core.read_namespaced_secret("tok-ray-token", namespace)
        token = base64.b64decode(secret.data["auth_token"]).decode()
        assert len(token) >= 32
        rc = kube.get("ray.io/v1", "RayCluster", "tok", namespace)
        assert token not in yaml.safe_dump(rc)
        worker = next(p for p in pods(kube, namespace, "tok") if p.metadata.labels["ray.io/node-type"] == "worker")
        ref = next(e for e in worker.spec.containers[0].env if e.name == "RAY_AUTH_TOKEN")
        assert ref.value_from.secret_key_ref.name == "tok-ray-token"
    finally:
        cluster.down()
    with pytest.raises(kube.client.exceptions.ApiException):
        kube.core.read_namespaced_secret("tok-ray-token", namespace)


def test_token_auth_opt_out_creates_no_secret(sim_cluster: Any, kube: Kube, namespace: str, tmp_path: Path) -> None:
    data = yaml.safe_load(A800.read_text())
    data["ray"]["auth"] = "none"
    path = tmp_path / "a800-open.yaml"
    path.write_text(yaml.safe_dump(data))
    cluster = aiinfra.launch(path, workers=1, name="open", namespace=namespace, timeout=180)
    try:
        assert kube.get("v1", "Secret", "open-ray-token", namespace) is None
        head = next(p for p in pods(kube, namespace, "open") if p.metadata.labels["ray.io/node-type"] == "head")
        assert "RAY_AUTH_TOKEN" not in {e.name for e in head.spec.containers[0].env}
    finally:
        cluster.down()
