"""Per-rail objects: the nv-ipam IPPool, the network CR that makes the pods' NAD, SR-IOV policies.

Each rail's network CR is named exactly as the rail's ``network`` (the
NetworkAttachmentDefinition the RayCluster's worker pods list in
``k8s.v1.cni.cncf.io/networks``), in the namespace given there or else the
Ray namespace, so the operator's NAD and the pod annotation cannot drift.

=====================  ============================================  ==========================
rail                   network CR (makes the NAD)                    device plugin
=====================  ============================================  ==========================
InfiniBand, shared     IPoIBNetwork (ipoib child of the rail netdev)  RDMA shared, per rail
Ethernet, shared       MacvlanNetwork (macvlan on the rail netdev)    RDMA shared, per rail
InfiniBand, sriov      SriovIBNetwork                                 SriovNetworkNodePolicy VFs
Ethernet, sriov        SriovNetwork                                   SriovNetworkNodePolicy VFs
=====================  ============================================  ==========================

Example:
    >>> from aiinfra.definition import load_definition
    >>> d = load_definition("clusters/a800-ib.yaml")
    >>> [(o["kind"], o["metadata"]["name"]) for o in rail_objects(d)[:2]]
    [('IPPool', 'rail0'), ('IPoIBNetwork', 'ib-rail0')]
"""

from __future__ import annotations

import json
from ipaddress import IPv4Network
from typing import Any

from aiinfra.definition.model import ClusterDefinition, LinkLayer, Rail, RailResourceKind
from aiinfra.net.operators import MELLANOX_PCI_LABEL, MELLANOX_VENDOR, NCP_API, split_resource

IPAM_API = "nv-ipam.nvidia.com/v1alpha1"
SRIOV_API = "sriovnetwork.openshift.io/v1"
SRIOV_PREFIX = "nvidia.com"  # the network-operator chart's sriov-network-operator.operator.resourcePrefix


def network_ref(d: ClusterDefinition, rail: Rail) -> tuple[str, str]:
    """(namespace, name) of the rail's NetworkAttachmentDefinition.

    Example:
        >>> from aiinfra.definition import load_definition
        >>> d = load_definition("clusters/h100-ndr.yaml")
        >>> network_ref(d, d.rails[0])
        ('training', 'ib-rail0')
    """
    ns, _, name = rail.network.rpartition("/")
    return ns or (d.ray.namespace if d.ray else "default"), name


def node_count(d: ClusterDefinition) -> int:
    """GPU nodes the pools must cover."""
    return d.operators.nodes or (d.ray.workers.replicas if d.ray else 1)


def pool_capacity(subnet: IPv4Network, block: int) -> int:
    """Nodes a pool can serve: per-node blocks that fit in the subnet's usable addresses.

    Example:
        >>> pool_capacity(IPv4Network("10.100.0.0/24"), 8)
        31
    """
    usable = subnet.num_addresses - (2 if subnet.prefixlen < 31 else 0)  # network and broadcast
    return usable // block


def ip_pool(d: ClusterDefinition, rail: Rail) -> dict[str, Any]:
    """The rail's nv-ipam IPPool: its pod subnet cut into one block per node."""
    return {
        "apiVersion": IPAM_API,
        "kind": "IPPool",
        "metadata": {"name": rail.name, "namespace": d.operators.network_namespace},
        "spec": {
            "subnet": str(rail.pod_subnet),
            "perNodeBlockSize": d.operators.pods_per_node,
            "nodeSelector": _mellanox_nodes(),
        },
    }


def _ipam(rail: Rail) -> str:
    return json.dumps({"type": "nv-ipam", "poolName": rail.name})


def _mellanox_nodes() -> dict[str, Any]:
    return {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": MELLANOX_PCI_LABEL, "operator": "In", "values": ["true"]}]}]
    }


def shared_network(d: ClusterDefinition, rail: Rail) -> dict[str, Any]:
    """IPoIBNetwork (InfiniBand) or MacvlanNetwork (RoCE) over the rail's netdev."""
    ns, name = network_ref(d, rail)
    spec: dict[str, Any] = {"networkNamespace": ns, "master": rail.netdev, "ipam": _ipam(rail)}
    if rail.link_layer is LinkLayer.INFINIBAND:
        kind = "IPoIBNetwork"
    else:
        kind = "MacvlanNetwork"
        spec["mode"] = "bridge"
    return {"apiVersion": NCP_API, "kind": kind, "metadata": {"name": name}, "spec": spec}


def sriov_policy(d: ClusterDefinition, rail: Rail) -> dict[str, Any]:
    """SriovNetworkNodePolicy making the rail port's VFs, selected by the PF's PCI address."""
    ib = rail.link_layer is LinkLayer.INFINIBAND
    return {
        "apiVersion": SRIOV_API,
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": rail.name, "namespace": d.operators.network_namespace},
        "spec": {
            "resourceName": split_resource(rail.resource_name)[1],
            "nodeSelector": {MELLANOX_PCI_LABEL: "true"},
            "numVfs": d.operators.sriov_vfs,
            "nicSelector": {"vendor": MELLANOX_VENDOR, "rootDevices": [rail.pci]},
            "deviceType": "netdevice",
            "isRdma": True,
            "linkType": "ib" if ib else "eth",
        },
    }


def sriov_network(d: ClusterDefinition, rail: Rail) -> dict[str, Any]:
    """SriovIBNetwork (InfiniBand) or SriovNetwork (RoCE) rendering the rail's NAD."""
    ns, name = network_ref(d, rail)
    kind = "SriovIBNetwork" if rail.link_layer is LinkLayer.INFINIBAND else "SriovNetwork"
    return {
        "apiVersion": SRIOV_API,
        "kind": kind,
        "metadata": {"name": name, "namespace": d.operators.network_namespace},
        "spec": {
            "resourceName": split_resource(rail.resource_name)[1],
            "networkNamespace": ns,
            "linkState": "enable",
            "ipam": _ipam(rail),
        },
    }


def rail_objects(d: ClusterDefinition) -> list[dict[str, Any]]:
    """Every per-rail object, in apply order: pool, then its network (then SR-IOV policy)."""
    out: list[dict[str, Any]] = []
    for rail in d.rails:
        out.append(ip_pool(d, rail))
        if rail.resource_kind is RailResourceKind.SRIOV:
            out.append(sriov_policy(d, rail))
            out.append(sriov_network(d, rail))
        else:
            out.append(shared_network(d, rail))
    return out
