"""Which peers a set of NetworkPolicies admits: Kubernetes ingress semantics, evaluated.

The simulated cluster has no CNI to enforce a NetworkPolicy, so what a policy
lets through is checked here, by the rules of the networking.k8s.io/v1 API:

- a pod is isolated for ingress once any policy of its namespace selects it
  with ``Ingress`` in its policyTypes; an unisolated pod admits everything;
- an isolated pod admits a connection when any rule of any policy selecting it
  admits both the source and the port (policies add up, none subtracts);
- a rule with no ``from`` admits every source, with no ``ports`` every port;
- a peer with only ``podSelector`` means pods of the policy's namespace, only
  ``namespaceSelector`` every pod of the matching namespaces, both: the
  matching pods of the matching namespaces. ``ipBlock`` peers are not modelled
  (pods have no addresses here) and admit nothing.

Example:
    >>> policy = {"metadata": {"namespace": "ns"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
    ...           "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}]}]}}
    >>> admits([policy], Peer("ns", {}), Peer("ns", {"app": "a"}), 80)
    True
    >>> admits([policy], Peer("ns", {}), Peer("other", {"app": "a"}), 80)
    False
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Peer:
    """A pod: its namespace, its labels and its namespace's labels (the name label is implied)."""

    namespace: str
    labels: Mapping[str, str]
    namespace_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def all_namespace_labels(self) -> dict[str, str]:
        return {**self.namespace_labels, NAME_LABEL: self.namespace}


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector against labels; an empty selector matches everything.

    Example:
        >>> selector_matches({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["x"]}]}, {})
        True
    """
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        ok = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(op)
        if ok is None:
            raise ValueError(f"unknown label selector operator {op!r}")
        if not ok:
            return False
    return True


def admits(
    policies: Sequence[Mapping[str, Any]], target: Peer, source: Peer, port: int, protocol: str = "TCP"
) -> bool:
    """Whether ``source`` may open ``port`` on ``target`` under ``policies``."""
    selecting = [p for p in policies if _isolates(p, target)]
    if not selecting:
        return True
    return any(
        _rule_admits(rule, p["metadata"]["namespace"], source, port, protocol)
        for p in selecting
        for rule in p["spec"].get("ingress") or []
    )


def _isolates(policy: Mapping[str, Any], target: Peer) -> bool:
    spec = policy["spec"]
    types = spec.get("policyTypes") or ["Ingress"]
    return (
        policy["metadata"]["namespace"] == target.namespace
        and "Ingress" in types
        and selector_matches(spec.get("podSelector"), target.labels)
    )


def _rule_admits(rule: Mapping[str, Any], namespace: str, source: Peer, port: int, protocol: str) -> bool:
    peers = rule.get("from") or []
    if peers and not any(_peer_matches(p, namespace, source) for p in peers):
        return False
    ports = rule.get("ports") or []
    return not ports or any(_port_matches(p, port, protocol) for p in ports)


def _peer_matches(peer: Mapping[str, Any], namespace: str, source: Peer) -> bool:
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"], source.all_namespace_labels):
            return False
    elif source.namespace != namespace:
        return False
    return selector_matches(peer.get("podSelector"), source.labels)


def _port_matches(entry: Mapping[str, Any], port: int, protocol: str) -> bool:
    if entry.get("protocol", "TCP") != protocol:
        return False
    want = entry.get("port")
    if want is None:
        return True
    if isinstance(want, str):
        raise ValueError(f"named port {want!r}: this evaluator knows numbers only")
    return bool(want <= port <= entry.get("endPort", want))
