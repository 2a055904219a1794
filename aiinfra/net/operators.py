"""The NicClusterPolicy and the network-operator chart values a definition asks for.

The policy enables only what the rails need: the RDMA shared device plugin
(one resource per rdma-shared rail, named exactly as the rail's ``resource``),
Multus, the standard CNI plugins, the IPoIB CNI when a rail is InfiniBand,
and nv-ipam. SR-IOV rails get the SR-IOV Network Operator (a chart sub-chart)
instead, whose device plugin selects virtual functions by the PF's PCI
address. The DOCA driver container is deployed only when the definition asks
for it: its ``openibd restart`` takes down every mlx5 netdev, bonds included.

Why the shared plugin selects by interface name: k8s-rdma-shared-dev-plugin
(the one the operator deploys) offers only vendor, device ID, driver, link
type and interface-name selectors, and one resource per rail can only be told
apart by name. The selector therefore ANDs the vendor and the rail's link type
with the name, so a renamed or re-typed port shows 0 resources (which
``aiinfra net deploy`` waits for and reports) instead of the wrong port; the
container driver keeps PCI-path names (CREATE_IFNAMES_UDEV).

Example:
    >>> from aiinfra.definition import load_definition
    >>> ncp = nic_cluster_policy(load_definition("clusters/a800-ib.yaml"))
    >>> sorted(ncp["spec"])
    ['global', 'nodeAffinity', 'nvIpam', 'rdmaSharedDevicePlugin', 'secondaryNetwork']
"""

from __future__ import annotations

import json
from typing import Any

from aiinfra.definition.model import ClusterDefinition, LinkLayer, Rail, RailResourceKind
from aiinfra.definition.operators import NicDriver
from aiinfra.upstream import (
    DOCA_DRIVER_VERSION,
    NETWORK_OPERATOR_IMAGE_TAG,
    NETWORK_OPERATOR_REPOSITORY,
)

NCP_NAME = "nic-cluster-policy"
NCP_API = "mellanox.com/v1alpha1"
MELLANOX_VENDOR = "15b3"
MELLANOX_PCI_LABEL = "feature.node.kubernetes.io/pci-15b3.present"
LINK_TYPES = {LinkLayer.INFINIBAND: "infiniband", LinkLayer.ETHERNET: "ether"}


def shared_rails(d: ClusterDefinition) -> list[Rail]:
    """Rails served by the RDMA shared device plugin."""
    return [r for r in d.rails if r.resource_kind is RailResourceKind.RDMA_SHARED]


def sriov_rails(d: ClusterDefinition) -> list[Rail]:
    """Rails whose pods get an SR-IOV virtual function."""
    return [r for r in d.rails if r.resource_kind is RailResourceKind.SRIOV]


def split_resource(resource: str) -> tuple[str, str]:
    """('rdma', 'rail0') from 'rdma/rail0'; a bare name gets the plugin's default prefix 'rdma'.

    Example:
        >>> split_resource("nvidia.com/sriov_roce0")
        ('nvidia.com', 'sriov_roce0')
    """
    prefix, _, name = resource.rpartition("/")
    return prefix or "rdma", name


def rdma_shared_config(d: ClusterDefinition) -> dict[str, Any]:
    """The device plugin's configList: one resource per rdma-shared rail."""
    entries = []
    for rail in shared_rails(d):
        prefix, name = split_resource(rail.resource_name)
        selectors: dict[str, list[str]] = {"vendors": [MELLANOX_VENDOR], "linkTypes": [LINK_TYPES[rail.link_layer]]}
        selectors["ifNames"] = [rail.netdev or f"<rails.{rail.name}.netdev>"]
        entries.append(
            {
                "resourceName": name,
                "resourcePrefix": prefix,
                "rdmaHcaMax": d.operators.rdma_hca_max,
                "selectors": selectors,
            }
        )
    return {"periodicUpdateInterval": 300, "configList": entries}


def _component(image: str) -> dict[str, Any]:
    # Repository, tag and pull secrets come from spec.global; a component only names its image.
    return {"image": image}


def nic_cluster_policy(d: ClusterDefinition) -> dict[str, Any]:
    """The cluster's one NicClusterPolicy, enabling what the rails need."""
    ops = d.operators
    glob: dict[str, Any] = {
        "repository": ops.image_repository(NETWORK_OPERATOR_REPOSITORY),
        "version": NETWORK_OPERATOR_IMAGE_TAG,
    }
    if ops.image_pull_secrets:
        glob["imagePullSecrets"] = list(ops.image_pull_secrets)
    spec: dict[str, Any] = {
        "global": glob,
        # Only nodes with a Mellanox/NVIDIA NIC (label set by NFD) run the network components.
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": MELLANOX_PCI_LABEL, "operator": "In", "values": ["true"]}]}
                ]
            }
        },
    }
    if ops.driver is NicDriver.CONTAINER:
        spec["ofedDriver"] = {
            "image": "doca-driver",
            "version": DOCA_DRIVER_VERSION,
            # Keep PCI-path interface names across the driver reload (the rails' netdev names).
            "env": [{"name": "CREATE_IFNAMES_UDEV", "value": "true"}],
            "upgradePolicy": {"autoUpgrade": True, "maxParallelUpgrades": 1, "drain": {"enable": True}},
        }
    if shared_rails(d):
        spec["rdmaSharedDevicePlugin"] = {
            **_component("k8s-rdma-shared-dev-plugin"),
            "config": json.dumps(rdma_shared_config(d), indent=2, sort_keys=True),
        }
    secondary: dict[str, Any] = {
        "multus": _component("multus-cni"),
        "cniPlugins": _component("plugins"),
    }
    if any(r.link_layer is LinkLayer.INFINIBAND and r.resource_kind is RailResourceKind.RDMA_SHARED for r in d.rails):
        secondary["ipoib"] = _component("ipoib-cni")
    spec["secondaryNetwork"] = secondary
    spec["nvIpam"] = {**_component("nvidia-k8s-ipam"), "enableWebhook": False}
    return {"apiVersion": NCP_API, "kind": "NicClusterPolicy", "metadata": {"name": NCP_NAME}, "spec": spec}


def network_operator_values(d: ClusterDefinition) -> dict[str, Any]:
    """Helm values for the pinned network-operator chart (keys checked against its values.yaml in tests)."""
    ops = d.operators
    tag = NETWORK_OPERATOR_IMAGE_TAG
    mellanox = ops.image_repository(NETWORK_OPERATOR_REPOSITORY)
    secrets = list(ops.image_pull_secrets)
    sriov = bool(sriov_rails(d))
    values: dict[str, Any] = {
        # This chart's NFD is the cluster's only one; the GPU Operator's is disabled (two fight over port 8082).
        "nfd": {"enabled": True, "deployNodeFeatureRules": True},
        "upgradeCRDs": True,
        "sriovNetworkOperator": {"enabled": sriov},
        "maintenanceOperator": {"enabled": False},
        "operator": {
            "repository": ops.image_repository("nvcr.io/nvidia/cloud-native"),
            "cniBinDirectory": ops.cni_bin_dir,
            "cniNetworkDirectory": ops.cni_conf_dir,
            "ofedDriver": {"initContainer": {"repository": mellanox}},
        },
        "node-feature-discovery": {"image": {"repository": f"{mellanox}/node-feature-discovery", "tag": tag}},
        "imagePullSecrets": secrets,
    }
    if secrets:
        values["node-feature-discovery"]["imagePullSecrets"] = [{"name": s} for s in secrets]
    if sriov:
        images = {
            "operator": "sriov-network-operator",
            "sriovConfigDaemon": "sriov-network-operator-config-daemon",
            "sriovCni": "sriov-cni",
            "ibSriovCni": "ib-sriov-cni",
            "ovsCni": "ovs-cni-plugin",
            "rdmaCni": "rdma-cni",
            "sriovDevicePlugin": "sriov-network-device-plugin",
            "sriovDraDriver": "dra-driver-sriov",
            "webhook": "sriov-network-operator-webhook",
        }
        sub: dict[str, Any] = {"images": {k: f"{mellanox}/{v}:{tag}" for k, v in images.items()}}
        sub["images"]["resourcesInjector"] = (
            ops.image_repository("ghcr.io/k8snetworkplumbingwg/network-resources-injector") + ":v1.7.0"
        )
        if secrets:
            sub["imagePullSecrets"] = secrets
        values["sriov-network-operator"] = sub
    return values
