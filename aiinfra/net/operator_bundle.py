"""Everything ``aiinfra net deploy`` installs for a definition, checked before anything is rendered.

A bundle is the two chart releases (network-operator, gpu-operator) with
their values and the objects in apply order: the NicClusterPolicy,
then per rail the IPPool and the network CR (or SR-IOV policy and network).
Preconditions that a definition can break (a rail without the netdev its
network needs, a pool too small for the nodes, a Kubernetes version outside
the charts' validated range) are reported together, by file, line and field.

Example:
    >>> from aiinfra.definition import load_definition
    >>> b = operator_bundle(load_definition("clusters/a800-ib.yaml"))
    >>> [r.chart.name for r in b.releases], len(b.objects)
    (['network-operator', 'gpu-operator'], 9)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from aiinfra.definition.loader import Loc, definition_error
from aiinfra.definition.model import ClusterDefinition, RailResourceKind
from aiinfra.errors import UsageError
from aiinfra.net.gpu_operator import gpu_operator_values
from aiinfra.net.operators import network_operator_values, nic_cluster_policy, split_resource
from aiinfra.net.rail_networks import SRIOV_PREFIX, network_ref, node_count, pool_capacity, rail_objects
from aiinfra.upstream import GPU_OPERATOR, NETWORK_OPERATOR, Chart

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Release:
    """One Helm release: the pinned chart, its namespace and our values."""

    chart: Chart
    namespace: str
    values: dict[str, Any]


@dataclass(frozen=True)
class OperatorBundle:
    """Releases to install and custom resources to apply, each list in dependency order."""

    releases: list[Release]
    objects: list[dict[str, Any]] = field(default_factory=list)


def check_kubernetes(version: str) -> None:
    """Raise UsageError when ``version`` is outside a chart's validated Kubernetes range.

    Example:
        >>> check_kubernetes("1.30.4")
        Traceback (most recent call last):
        ...
        aiinfra.errors.UsageError: Kubernetes 1.30.4 is outside network-operator 26.4.1's validated range 1.31-1.35
    """
    for chart in (NETWORK_OPERATOR, GPU_OPERATOR):
        if not chart.supports(version):
            low, high = chart.supported_kube
            raise UsageError(
                f"Kubernetes {version} is outside {chart.name} {chart.version}'s validated range {low}-{high}"
            )


def precondition_issues(d: ClusterDefinition) -> Iterator[tuple[Loc, str]]:
    """Yield (field location, message) for everything that keeps the operators' objects from working."""
    nodes = node_count(d)
    block = d.operators.pods_per_node
    seen_subnets: list[tuple[int, Any]] = []
    for i, rail in enumerate(d.rails):
        ns, name = network_ref(d, rail)
        if not _DNS_LABEL.match(name) or len(name) > 63 or not _DNS_LABEL.match(ns):
            yield ("rails", i, "network"), f"'{rail.network}' is not a valid NetworkAttachmentDefinition name"
        if rail.resource_kind is RailResourceKind.SRIOV:
            if rail.pci is None:
                yield ("rails", i, "pci"), "an SR-IOV rail needs the PCI address of its port (VFs are made from it)"
            if split_resource(rail.resource_name)[0] != SRIOV_PREFIX:
                yield ("rails", i, "resource"), f"SR-IOV resources are named '{SRIOV_PREFIX}/<name>' by the operator"
        elif rail.netdev is None:
            yield ("rails", i, "netdev"), "the rail's interface name is needed (IPoIB/macvlan parent, device selector)"
        if rail.pod_subnet is None:
            yield ("rails", i, "pod_subnet"), "a pod address pool is needed (e.g. 10.100.0.0/22)"
            continue
        fits = pool_capacity(rail.pod_subnet, block)
        if fits < nodes:
            yield (
                ("rails", i, "pod_subnet"),
                f"{rail.pod_subnet} holds {fits} blocks of {block} addresses but {nodes} nodes need one each "
                f"(operators.nodes / operators.pods_per_node)",
            )
        for j, other in seen_subnets:
            if rail.pod_subnet.overlaps(other):
                yield ("rails", i, "pod_subnet"), f"overlaps rails[{j}].pod_subnet {other}"
        seen_subnets.append((i, rail.pod_subnet))


def operator_bundle(d: ClusterDefinition, kubernetes_version: str | None = None) -> OperatorBundle:
    """Check ``d`` and render the releases and custom resources; raise DefinitionError/UsageError."""
    if not d.rails:
        message = "no rails: there is nothing for the Network Operator to do"
        if d.source:  # located like every other definition message (file:line: field: ...)
            raise definition_error(d, [(("rails",), message)])
        raise UsageError(f"{d.name}: {message}")
    issues = list(precondition_issues(d))
    if issues:
        raise definition_error(d, issues)
    version = kubernetes_version or d.operators.kubernetes_version
    if version:
        check_kubernetes(version)
    releases = [
        Release(NETWORK_OPERATOR, d.operators.network_namespace, network_operator_values(d)),
        Release(GPU_OPERATOR, d.operators.gpu_namespace, gpu_operator_values(d)),
    ]
    return OperatorBundle(releases, [nic_cluster_policy(d), *rail_objects(d)])


class _Dumper(yaml.SafeDumper):
    """Plain YAML for people: no anchors for repeated lists, multi-line strings (JSON configs) as blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_Dumper.add_representer(str, _str)


def to_yaml(obj: Any, sort_keys: bool = False) -> str:
    """One YAML document as the goldens and ``render-operators`` show it."""
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=sort_keys, default_flow_style=False, width=120)


def bundle_yaml(b: OperatorBundle) -> str:
    """The bundle as one YAML stream: each release's values (as a comment-headed document), then the objects."""
    docs = []
    for r in b.releases:
        head = f"# helm upgrade --install {r.chart.release} {r.chart.reference} --version {r.chart.version}"
        head += f" -n {r.namespace} -f <this document>\n"
        docs.append(head + to_yaml(r.values, sort_keys=True))
    docs.extend(to_yaml(o) for o in b.objects)
    return "---\n".join(docs)
