"""The simulated cluster itself: nodes, reuse, CRDs, the real KubeRay operator and scheduler."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kubernetes.utils import parse_quantity

from aiinfra import sim
from aiinfra.definition.loader import load_definition
from aiinfra.errors import AiinfraError, UsageError
from aiinfra.k8s.raycluster import LaunchOptions, raycluster
from aiinfra.sim.nodes import SIM_LABEL

ROOT = Path(__file__).resolve().parents[2]
SIM_DEFINITION = ROOT / "clusters" / "a800-ib.yaml"  # as in conftest.py
SIM_NODES = 4

EXPECTED_CRDS = [
    "rayclusters.ray.io",
    "rayjobs.ray.io",
    "rayservices.ray.io",
    "network-attachment-definitions.k8s.cni.cncf.io",
    "nicclusterpolicies.mellanox.com",
    "hostdevicenetworks.mellanox.com",
    "ipoibnetworks.mellanox.com",
    "macvlannetworks.mellanox.com",
    "sriovnetworks.sriovnetwork.openshift.io",
    "sriovibnetworks.sriovnetwork.openshift.io",
    "sriovnetworknodepolicies.sriovnetwork.openshift.io",
    "servicemonitors.monitoring.coreos.com",
    "podmonitors.monitoring.coreos.com",
    "prometheusrules.monitoring.coreos.com",
]


def test_nodes_carry_gpu_rail_capacity_and_topology(kube):
    d = load_definition(SIM_DEFINITION)
    nodes = kube.core.list_node(label_selector=f"{SIM_LABEL}={d.name}").items
    assert len(nodes) == SIM_NODES
    for node in sorted(nodes, key=lambda n: n.metadata.name):
        alloc, labels = node.status.allocatable, node.metadata.labels
        assert alloc["nvidia.com/gpu"] == str(d.gpu.per_node)
        assert alloc["cpu"] == str(d.node.cpu)
        assert parse_quantity(alloc["memory"]) == d.node.memory_gib * 2**30
        for rail in d.rails:
            assert int(alloc[rail.resource_name]) > 0, rail.resource_name
        assert node.status.capacity == alloc
        assert labels["nvidia.com/gpu.product"] == d.gpu.product
        assert labels["nvidia.com/gpu.count"] == str(d.gpu.per_node)
        for key in d.topology.labels:
            assert key in labels
        ready = [c.status for c in node.status.conditions if c.type == "Ready"]
        assert ready == ["True"], node.metadata.name
        assert not node.spec.taints
    leaf = d.topology.labels[0]
    spine = d.topology.labels[1]
    by_name = {n.metadata.name: n.metadata.labels for n in nodes}  # 2 nodes per leaf, 2 leaves per spine
    assert [by_name[k][leaf] for k in sorted(by_name)] == ["leaf0", "leaf0", "leaf1", "leaf1"]
    assert {labels[spine] for labels in by_name.values()} == {"spine0"}


def test_second_up_reuses_running_processes(sim_cluster):
    again = sim.up(SIM_DEFINITION, nodes=SIM_NODES, state_dir=sim_cluster.state_dir)
    assert again.reused
    assert {n: p.pid for n, p in again.processes.items()} == {n: p.pid for n, p in sim_cluster.processes.items()}


def test_status_lists_every_process_running(sim_cluster):
    st = sim.status(sim_cluster.state_dir)
    assert st.running
    assert set(st.alive) == {
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
        "ray-operator",
    }
    assert st.nodes_ready >= SIM_NODES
    assert all(kib > 0 for kib in st.rss_kib.values())


def test_operator_crds_are_established(kube):
    ext = kube.client.ApiextensionsV1Api(kube.api)
    served = {c.metadata.name for c in ext.list_custom_resource_definition().items}
    assert not set(EXPECTED_CRDS) - served


def test_dry_run_apply_is_validated_by_the_api_server(kube, namespace):
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "aiinfra-test", "namespace": namespace},
        "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0"}]}]},
    }
    kube.apply(rule, dry_run=True)
    assert kube.get("monitoring.coreos.com/v1", "PrometheusRule", "aiinfra-test", namespace) is None
    del rule["spec"]["groups"][0]["rules"][0]["expr"]  # required by the CRD's OpenAPI schema
    with pytest.raises(UsageError, match=r"rejected by the API server.*expr"):
        kube.apply(rule, dry_run=True)
    # a wrong type fails earlier, in the typed apply patch: the real server answers 500, not 422
    rule["spec"]["groups"][0]["rules"] = "not-a-list"
    with pytest.raises(AiinfraError, match="expected list"):
        kube.apply(rule, dry_run=True)


def test_kuberay_operator_and_scheduler_place_workers_on_distinct_gpu_nodes(kube, namespace):
    d = load_definition(SIM_DEFINITION)
    rc = raycluster(d, LaunchOptions(name="smoke", workers=2, namespace=namespace))
    kube.apply(rc)
    deadline, state = time.monotonic() + 90, None
    while time.monotonic() < deadline:
        obj = kube.get("ray.io/v1", "RayCluster", "smoke", namespace) or {}
        state = obj.get("status", {}).get("state")
        if state == "ready":
            break
        time.sleep(0.5)
    assert state == "ready"
    pods = kube.core.list_namespaced_pod(namespace, label_selector="ray.io/cluster=smoke").items
    workers = [p for p in pods if p.metadata.labels.get("ray.io/node-type") == "worker"]
    assert len(workers) == 2
    assert len({p.spec.node_name for p in workers}) == 2
    for pod in workers:
        assert pod.status.phase == "Running"
        limits = pod.spec.containers[0].resources.limits
        assert limits["nvidia.com/gpu"] == str(d.gpu.per_node)
        for rail in d.rails:
            assert rail.resource_name in limits
