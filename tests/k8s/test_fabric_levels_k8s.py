"""Levels 1 and 2 of the fabric test against the simulated cluster's real API server.

The test plays the operators' part: it applies the rendered custom resources from the current upstream
CRDs (the mirror), writes their status, makes the NADs and an operator Deployment whose pod KWOK runs.
Then it breaks one thing at a time and checks that level 1 names it, and only it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiinfra.definition import load_definition
from aiinfra.definition.model import ClusterDefinition
from aiinfra.k8s.client import Kube
from aiinfra.net.fabric.control_plane import control_plane_findings, expected_objects
from aiinfra.net.fabric.control_plane_read import NAD_API, read_control_plane
from aiinfra.net.operators import NCP_API, NCP_NAME
from aiinfra.net.rail_networks import network_ref
from aiinfra.sim.network_operator import nad, play_network_operator, remove_network_operator, set_state

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deployed(sim_cluster: Any, kube: Kube, upstream_mirror: Path) -> Iterator[ClusterDefinition]:
    """The a800-ib definition's operators, objects and NADs in place, as a healthy rollout leaves them."""
    d = load_definition(ROOT / "clusters" / "a800-ib.yaml")
    play_network_operator(kube, d)
    yield d
    remove_network_operator(kube, d)


def _codes(kube: Kube, d: ClusterDefinition) -> list[tuple[str, str]]:
    return [(f.code, f.device) for f in control_plane_findings(d, read_control_plane(kube, d))]


def test_a_healthy_control_plane_passes(kube: Kube, deployed: ClusterDefinition) -> None:
    snap = read_control_plane(kube, deployed)
    assert len(snap.nodes) == 4
    assert control_plane_findings(deployed, snap) == []


def test_a_node_missing_a_rail_resource_is_named(kube: Kube, deployed: ClusterDefinition) -> None:
    node = sorted(read_control_plane(kube, deployed).nodes)[1]
    before = kube.core.read_node(node).status.allocatable
    try:
        kube.core.patch_node_status(node, {"status": {"allocatable": {"rdma/rail2": "0"}}})
        assert _codes(kube, deployed) == [("rail-resource-missing", f"{node}:rail2")]
    finally:
        kube.core.patch_node_status(node, {"status": {"allocatable": {"rdma/rail2": before["rdma/rail2"]}}})
    assert _codes(kube, deployed) == []


def test_a_missing_nad_is_named(kube: Kube, deployed: ClusterDefinition) -> None:
    ns, name = network_ref(deployed, deployed.rails[3])
    kube.delete(NAD_API, "NetworkAttachmentDefinition", name, ns)
    try:
        # A list right after a delete may still show it on a loaded apiserver (seen once in CI): ask again.
        deadline = time.monotonic() + 30
        while (codes := _codes(kube, deployed)) == [] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert codes == [("nad-missing", f"{ns}/{name}")]
    finally:
        kube.apply(nad(deployed, 3))


def test_a_policy_not_ready_is_named(kube: Kube, deployed: ClusterDefinition) -> None:
    ncp = expected_objects(deployed)[0]
    assert ncp["kind"] == "NicClusterPolicy"
    set_state(kube, ncp, "notReady")
    try:
        findings = control_plane_findings(deployed, read_control_plane(kube, deployed))
        assert [(f.code, f.device) for f in findings] == [("not-ready", f"NicClusterPolicy {NCP_NAME}")]
        assert "notReady" in findings[0].message
    finally:
        set_state(kube, ncp, "ready")
    assert kube.get(NCP_API, "NicClusterPolicy", NCP_NAME)["status"]["state"] == "ready"


def test_level_2_on_kwok_nodes_says_nothing_ran(kube: Kube, deployed: ClusterDefinition, namespace: str) -> None:
    from aiinfra.net.fabric.node_level import run_node_checks

    result = run_node_checks(kube, deployed, namespace, timeout=5)
    assert result.findings == {}
    assert len(result.not_checked) == 4 and all("KWOK" in why for why in result.not_checked.values())
    # Not checked is never "passed", nor an error: one info finding says so for all KWOK nodes.
    assert [(f.code, f.severity, f.device) for f in result.all_findings()] == [
        ("node-not-checked", "info", "4 KWOK node(s)")]


def _worker_pod(d: ClusterDefinition, namespace: str) -> dict[str, Any]:
    """A pod exactly as the rendered RayCluster's worker template asks to be placed."""
    from aiinfra.k8s.raycluster import LaunchOptions, raycluster

    template = raycluster(d, LaunchOptions(name="avoid"))["spec"]["workerGroupSpecs"][0]["template"]
    spec = {**template["spec"], "containers": [{**c, "env": []} for c in template["spec"]["containers"]]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "avoid-worker", "namespace": namespace},
            "spec": spec}


def _scheduled_on(kube: Kube, namespace: str, timeout: float = 20) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        node = kube.core.read_namespaced_pod("avoid-worker", namespace).spec.node_name
        if node:
            return str(node)
        time.sleep(0.3)
    return None


def test_marked_nodes_are_avoided_by_the_rendered_worker_pods(
    kube: Kube, deployed: ClusterDefinition, namespace: str
) -> None:
    from aiinfra.contract import FABRIC_FAILED_KEY
    from aiinfra.net.fabric.marks import mark_nodes

    nodes = sorted(read_control_plane(kube, deployed).nodes)
    labelled, tainted, last = nodes[:2], nodes[2:3], nodes[3]
    try:
        assert len(mark_nodes(kube, {n: ["rate-low"] for n in labelled}, [], label=True, taint=False)) == 2
        mark_nodes(kube, {n: ["port-down", "rate-low"] for n in [*tainted, last]}, [], label=False, taint=True)
        node = kube.core.read_node(tainted[0])
        assert [(t.key, t.value, t.effect) for t in node.spec.taints] == [
            (FABRIC_FAILED_KEY, "port-down.rate-low", "NoSchedule")]
        assert kube.core.read_node(labelled[0]).metadata.labels[FABRIC_FAILED_KEY] == "rate-low"
        kube.core.create_namespaced_pod(namespace, _worker_pod(deployed, namespace))
        assert _scheduled_on(kube, namespace, timeout=5) is None  # every node is marked: nowhere to go
        assert mark_nodes(kube, {}, [last], label=True, taint=True) == [f"{last}: unmarked"]
        assert _scheduled_on(kube, namespace) == last
    finally:
        mark_nodes(kube, {}, nodes, label=True, taint=True)
    assert not any(FABRIC_FAILED_KEY in (kube.core.read_node(n).metadata.labels or {}) or kube.core.read_node(n)
                   .spec.taints for n in nodes)


def _marked(kube: Kube, nodes: list[str]) -> dict[str, tuple[str | None, list[tuple[str, str]], str | None]]:
    """Per marked node: the label value, the taints (value, effect) and the detail annotation."""
    from aiinfra.contract import FABRIC_FAILED_DETAIL_ANNOTATION, FABRIC_FAILED_KEY

    out = {}
    for n in nodes:
        node = kube.core.read_node(n)
        label = (node.metadata.labels or {}).get(FABRIC_FAILED_KEY)
        taints = [(t.value, t.effect) for t in node.spec.taints or [] if t.key == FABRIC_FAILED_KEY]
        detail = (node.metadata.annotations or {}).get(FABRIC_FAILED_DETAIL_ANNOTATION)
        if label or taints or detail:
            out[n] = (label, taints, detail)
    return out


def test_level_3_slow_rail_marks_its_node_and_a_bad_link_marks_none(
    kube: Kube, deployed: ClusterDefinition, tmp_path: Path
) -> None:
    import json

    from aiinfra.cli import main
    from aiinfra.net.fabric.marks import mark_nodes
    from aiinfra.net.fabric.simulate import Fabric
    from aiinfra.sim.nodes import SIM_LABEL

    nodes, rails = sorted(read_control_plane(kube, deployed).nodes), [r.name for r in deployed.rails]
    out = tmp_path / "fabric.json"

    def net_test(scenario: str, seed: int) -> int:
        return main(["net", "test", "--cluster", str(ROOT / "clusters" / "a800-ib.yaml"), "--levels", "3",
                     "--simulate", "--scenario", scenario, "--seed", str(seed), "--label", "--taint",
                     "--json", str(out)])

    try:
        assert net_test("none", 0) == 0
        assert _marked(kube, nodes) == {}  # a healthy run marks nothing

        (fault,) = Fabric.scenario("slow_rail", len(nodes), len(rails), 2, node_names=nodes, rail_names=rails).truth
        assert fault.kind == "rail" and fault.node in nodes
        assert net_test("slow_rail", 2) == 1
        assert [(f["code"], f["device"]) for f in json.loads(out.read_text())["levels"]["data plane"]] == [
            ("slow-rail", f"{fault.node}:{fault.rail}")]
        value = f"slow-rail-{fault.rail}"
        detail = f"level 3: slow rail {fault.rail} (simulated data plane)"
        assert _marked(kube, nodes) == {fault.node: (value, [(value, "NoSchedule")], detail)}

        (link,) = Fabric.scenario("bad_link", len(nodes), len(rails), 0, node_names=nodes, rail_names=rails).truth
        assert net_test("bad_link", 0) == 1
        assert [(f["code"], f["device"]) for f in json.loads(out.read_text())["levels"]["data plane"]] == [
            ("slow-link", f"{link.node}-{link.peer}:{link.rail}")]
        # A link is a cable or switch port, not a node: neither end is marked, and the node whose rail is
        # fine this time loses its mark.
        assert _marked(kube, nodes) == {}

        # On a cluster that is not all simulator nodes, simulated readings mark no node.
        sim_name = kube.core.read_node(nodes[0]).metadata.labels[SIM_LABEL]
        kube.core.patch_node(nodes[0], {"metadata": {"labels": {SIM_LABEL: None}}})
        try:
            assert net_test("slow_rail", 2) == 1
            assert _marked(kube, nodes) == {}
        finally:
            kube.core.patch_node(nodes[0], {"metadata": {"labels": {SIM_LABEL: sim_name}}})
    finally:
        mark_nodes(kube, {}, nodes, label=True, taint=True)
