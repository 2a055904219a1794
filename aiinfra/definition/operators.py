"""The ``operators`` section of a cluster definition: how the NVIDIA operators are deployed.

Everything here has a default, so a definition without the section still
renders; what only a site knows (its mirror registry, pull secret, node count,
Kubernetes version) is set here or overridden on the command line.

Example:
    >>> Operators().driver
    <NicDriver.HOST: 'host'>
    >>> Operators(registry="mirror.local:5000").image_repository("nvcr.io/nvidia/mellanox")
    'mirror.local:5000/nvidia/mellanox'
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class NicDriver(StrEnum):
    HOST = "host"
    """The host's own mlx5 driver (inbox or host-installed DOCA-OFED): no driver container."""
    CONTAINER = "container"
    """The Network Operator's DOCA driver container (NicClusterPolicy ofedDriver)."""


class Operators(BaseModel):
    """NVIDIA Network Operator and GPU Operator deployment settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    nodes: Annotated[int | None, Field(ge=1)] = None
    """GPU nodes the rail address pools must cover (default: ray.workers.replicas)."""
    pods_per_node: Annotated[int, Field(ge=1, le=256)] = 8
    """Pod addresses each node gets per rail (the nv-ipam perNodeBlockSize)."""
    kubernetes_version: Annotated[str | None, Field(pattern=r"^v?\d+\.\d+(\.\d+)?$")] = None
    """Kubernetes version of the target cluster, for rendering offline (deploy asks the API server)."""
    driver: NicDriver = NicDriver.HOST
    """NIC driver: 'host' (inbox/host DOCA; safe with a ConnectX management bond) or 'container'."""
    registry: str | None = None
    """Mirror registry replacing nvcr.io/quay.io/ghcr.io/registry.k8s.io in every image, path kept."""
    image_pull_secrets: list[Annotated[str, Field(pattern=_NAME)]] = []
    """Secrets (in each operator's namespace) for pulling images from the registry."""
    chart_repository: str | None = None
    """Helm repository URL (or oci:// registry) serving both NVIDIA charts, instead of NGC."""
    network_namespace: Annotated[str, Field(pattern=_NAME)] = "nvidia-network-operator"
    """Namespace of the Network Operator, its IPPools and its SR-IOV policies."""
    gpu_namespace: Annotated[str, Field(pattern=_NAME)] = "gpu-operator"
    """Namespace of the GPU Operator."""
    rdma_hca_max: Annotated[int, Field(ge=1, le=1000)] = 63
    """Pods that may share one rail's HCA on a node (RDMA shared device plugin rdmaHcaMax)."""
    sriov_vfs: Annotated[int, Field(ge=1, le=127)] = 8
    """Virtual functions per port on SR-IOV rails."""
    cni_bin_dir: str = "/opt/cni/bin"
    """Where the cluster's container runtime looks for CNI binaries (k3s/RKE2 differ)."""
    cni_conf_dir: str = "/etc/cni/net.d"
    """Where the cluster's container runtime reads CNI configuration."""

    def image_repository(self, upstream: str) -> str:
        """``upstream`` (``host/path``) with its registry host replaced by ``registry`` when set."""
        if not self.registry:
            return upstream
        path = upstream.split("/", 1)[1] if "/" in upstream else upstream
        return f"{self.registry.rstrip('/')}/{path}"
