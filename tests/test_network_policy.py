"""The NetworkPolicies rendered from each definition (goldens) and which peers they admit.

No CNI enforces policies in the simulated cluster: ``aiinfra.k8s.policy_admits`` evaluates the
networking.k8s.io/v1 rules; its own semantics are pinned by the small cases at the bottom.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from aiinfra.contract import CLUSTER_LABEL, ROLE_LABEL
from aiinfra.definition.loader import load_definition
from aiinfra.k8s.network_policy import network_policies
from aiinfra.k8s.policy_admits import Peer, admits, selector_matches
from aiinfra.k8s.raycluster import to_yaml

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES = sorted(p for p in (ROOT / "clusters").glob("*.yaml") if load_definition(p).backend == "kubernetes")
NS = "train"


@pytest.mark.parametrize("path", KUBERNETES, ids=lambda p: p.stem)
def test_network_policy_golden(path: Path, golden: Callable[[str, str], None]) -> None:
    d = load_definition(path)
    docs = network_policies(d, d.name, NS)
    golden(f"networkpolicy/{path.stem}.yaml", "---\n".join(to_yaml(p) for p in docs))


def pod(role: str, cluster: str = "demo", ns: str = NS, **labels: str) -> Peer:
    return Peer(ns, {CLUSTER_LABEL: cluster, ROLE_LABEL: role, **labels})


HEAD, WORKER = pod("head"), pod("worker")


@pytest.fixture
def a800() -> list[dict]:
    # a800-ib: clients = every pod of namespace "notebooks"; monitoring namespace "monitoring".
    return network_policies(load_definition(ROOT / "clusters" / "a800-ib.yaml"), "demo", NS)


@pytest.mark.parametrize("port", [6379, 8265, 10001, 8080, 10002, 19999, 52365, 43210])
def test_the_clusters_own_pods_reach_every_port(a800: list[dict], port: int) -> None:
    for target in (HEAD, WORKER):
        for source in (HEAD, WORKER):
            assert admits(a800, target, source, port)


def test_declared_clients_reach_the_heads_job_api_and_client_port_only(a800: list[dict]) -> None:
    notebook = Peer("notebooks", {"app": "jupyter"})
    assert admits(a800, HEAD, notebook, 8265) and admits(a800, HEAD, notebook, 10001)
    assert not admits(a800, HEAD, notebook, 6379), "GCS is for Ray nodes, not clients"
    assert not admits(a800, HEAD, notebook, 8080)
    assert not admits(a800, WORKER, notebook, 8265)
    assert not admits(a800, WORKER, notebook, 10002)
    assert not admits(a800, HEAD, notebook, 8265, protocol="UDP")


def test_monitoring_reaches_the_metrics_port_of_every_pod_only(a800: list[dict]) -> None:
    prometheus = Peer("monitoring", {"app.kubernetes.io/name": "prometheus"})
    assert admits(a800, HEAD, prometheus, 8080) and admits(a800, WORKER, prometheus, 8080)
    for port in (6379, 8265, 10001, 12000):
        assert not admits(a800, HEAD, prometheus, port) and not admits(a800, WORKER, prometheus, port)


@pytest.mark.parametrize(
    "source",
    [
        Peer(NS, {"app": "something-else"}),  # a stranger in the cluster's own namespace
        pod("worker", cluster="other"),  # another Ray cluster next door
        Peer("default", {}),
        Peer("evil", {CLUSTER_LABEL: "demo", ROLE_LABEL: "head"}),  # own labels, foreign namespace
        Peer("attacker", {}, {"kubernetes.io/metadata.name": "notebooks"}),  # cannot fake its name label
    ],
)
def test_everyone_else_is_refused(a800: list[dict], source: Peer) -> None:
    for target in (HEAD, WORKER):
        for port in (6379, 8265, 10001, 8080, 15000):
            assert not admits(a800, target, source, port)


def test_client_pods_narrowed_by_labels() -> None:
    # roce: clients = pods labelled app=jupyter in namespace "ml".
    policies = network_policies(load_definition(ROOT / "clusters" / "roce.yaml"), "demo", NS)
    assert admits(policies, HEAD, Peer("ml", {"app": "jupyter", "x": "y"}), 8265)
    assert not admits(policies, HEAD, Peer("ml", {"app": "batch"}), 8265)
    assert not admits(policies, HEAD, Peer("other", {"app": "jupyter"}), 8265)


def test_client_in_the_clusters_namespace_and_opt_out(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "clusters" / "a800-ib.yaml").read_text())
    data["ray"]["access"] = {"clients": [{"pod_labels": {"app": "nb"}}]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    policies = network_policies(load_definition(path), "demo", NS)
    assert admits(policies, HEAD, Peer(NS, {"app": "nb"}), 10001)
    assert not admits(policies, HEAD, Peer("notebooks", {"app": "nb"}), 10001)
    assert not admits(policies, HEAD, Peer("monitoring", {}), 8080), "no monitoring namespace declared"
    data["ray"]["access"] = {"network_policy": False}
    path.write_text(yaml.safe_dump(data))
    assert network_policies(load_definition(path), "demo", NS) == []


# The evaluator's semantics, on hand-made policies.

def _policy(selector: dict, ingress: list, types: list[str] | None = None, ns: str = "a") -> dict:
    spec: dict = {"podSelector": selector, "ingress": ingress}
    if types is not None:
        spec["policyTypes"] = types
    return {"metadata": {"namespace": ns}, "spec": spec}


def test_unselected_pods_and_egress_only_policies_do_not_isolate() -> None:
    deny = _policy({"matchLabels": {"app": "x"}}, [])
    assert not admits([deny], Peer("a", {"app": "x"}), Peer("b", {}), 1)
    assert admits([deny], Peer("a", {"app": "y"}), Peer("b", {}), 1)
    assert admits([deny], Peer("other", {"app": "x"}), Peer("b", {}), 1), "policies act in their namespace"
    assert admits([_policy({}, [], types=["Egress"])], Peer("a", {}), Peer("b", {}), 1)


def test_policies_add_up_and_ports_ranges_apply() -> None:
    one = _policy({}, [{"ports": [{"port": 100, "endPort": 200}]}])
    two = _policy({}, [{"from": [{"namespaceSelector": {}}], "ports": [{"protocol": "UDP", "port": 53}]}])
    target = Peer("a", {})
    assert admits([one, two], target, Peer("z", {}), 150)
    assert not admits([one, two], target, Peer("z", {}), 201)
    assert admits([one, two], target, Peer("z", {}), 53, "UDP")
    assert not admits([one], target, Peer("z", {}), 53, "UDP")


def test_selector_expressions() -> None:
    sel = {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                {"key": "x", "operator": "DoesNotExist"}]}
    assert selector_matches(sel, {"tier": "a"})
    assert not selector_matches(sel, {"tier": "a", "x": "1"})
    assert not selector_matches(sel, {"tier": "c"})
    assert selector_matches({"matchExpressions": [{"key": "k", "operator": "Exists"}]}, {"k": ""})
    with pytest.raises(ValueError):
        selector_matches({"matchExpressions": [{"key": "k", "operator": "Gt"}]}, {})
