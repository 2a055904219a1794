"""The cluster definition: the one input everything else is derived from.

A definition is one YAML document (``clusters/*.yaml``) describing the
hardware of a node type, its data rails, how Ray runs on it and how the
fabric is laid out. Loading is strict: unknown keys, wrong types and
inconsistent rails are errors that name the file, line and field.

Example:
    >>> from aiinfra.definition import load_definition
    >>> d = load_definition("clusters/a800-ib.yaml")
    >>> [r.hca for r in d.rails]
    ['mlx5_2', 'mlx5_3', 'mlx5_4', 'mlx5_5']
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aiinfra.contract import DEFINITION_ENV
from aiinfra.definition.operators import Operators
from aiinfra.definition.storage import Storage
from aiinfra.definition.versions import definition_problems

_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_PCI = r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$"
_RESOURCE = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"


class Strict(BaseModel):
    """Base of every definition section: unknown keys are errors, and types are not coerced.

    ``per_node: yes`` or ``per_node: "8"`` is an error rather than 1 or 8, and a
    float field refuses ``.inf`` and ``.nan``. Enum fields take their values as
    strings (``Lax``), which is the only way YAML can spell them.

    Example:
        >>> Node.model_validate({"cpu": "8", "memory_gib": 64})
        Traceback (most recent call last):
        ...
        pydantic_core._pydantic_core.ValidationError: 1 validation error for Node
        ...
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, strict=True, allow_inf_nan=False
    )


Lax = Field(strict=False)
"""For enum and network fields: a YAML string names the member or the network (strict mode wants the object)."""


class LinkLayer(StrEnum):
    INFINIBAND = "InfiniBand"
    ETHERNET = "Ethernet"


class RailResourceKind(StrEnum):
    RDMA_SHARED = "rdma-shared"
    """k8s-rdma-shared-dev-plugin (NicClusterPolicy rdmaSharedDevicePlugin): pods share the HCA."""
    SRIOV = "sriov"
    """SR-IOV network device plugin: each pod gets its own virtual function."""


class GpuDirect(StrEnum):
    DMABUF = "dmabuf"
    """GPUDirect RDMA through Linux DMA-BUF (open kernel module, kernel >= 5.12)."""
    PEERMEM = "peermem"
    """GPUDirect RDMA through the nvidia_peermem kernel module."""
    OFF = "off"


class Gpu(Strict):
    """The GPUs of one node."""

    model: str
    """GPU model as people name it, e.g. 'A800-SXM4-80GB'."""
    product: str
    """Value of the node label nvidia.com/gpu.product set by GPU feature discovery."""
    per_node: Annotated[int, Field(ge=1, le=16)] = 8
    """GPUs per node."""
    memory_gib: Annotated[int, Field(ge=1, le=1 << 20)]
    """Memory of one GPU in GiB."""
    nvlink_gb_s: Annotated[float, Field(ge=0, le=100_000)]
    """NVLink bandwidth of one GPU, GB/s per direction (A800 200, A100 300, H100/H200 450)."""
    ray_accelerator_type: str
    """Ray accelerator type (ray.util.accelerators), e.g. 'A100' or 'H100'."""


class Node(Strict):
    """Allocatable capacity of one GPU node."""

    cpu: Annotated[int, Field(ge=1, le=1 << 20)]
    """Allocatable CPU cores of one node."""
    memory_gib: Annotated[int, Field(ge=1, le=1 << 30)]
    """Allocatable memory of one node in GiB."""


class Rail(Strict):
    """One data rail: an HCA port, the GPUs it serves, and how pods get it."""

    name: Annotated[str, Field(pattern=_NAME)]
    """Short rail name, e.g. 'rail0'."""
    hca: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$")]
    """RDMA device name as in /sys/class/infiniband, e.g. 'mlx5_2'."""
    port: Annotated[int, Field(ge=1, le=255)] = 1
    """HCA port number (1 on single-port cards)."""
    link_layer: Annotated[LinkLayer, Lax] = LinkLayer.INFINIBAND
    """InfiniBand, or Ethernet for RoCE."""
    rate_gbps: Annotated[float, Field(gt=0, le=100_000)]
    """Line rate in Gb/s (HDR 200, NDR 400)."""
    gpus: list[Annotated[int, Field(ge=0, le=1023)]]
    """GPU indices this rail serves (PCIe affinity)."""
    network: str
    """Multus NetworkAttachmentDefinition ('name' or 'namespace/name')."""
    resource_kind: Annotated[RailResourceKind, Lax] = RailResourceKind.RDMA_SHARED
    """rdma-shared (RDMA shared device plugin) or sriov (SR-IOV VF per pod)."""
    resource: Annotated[str | None, Field(pattern=_RESOURCE)] = None
    """Kubernetes extended resource granting the rail; defaults to 'rdma/<name>' for rdma-shared."""
    gid_index: Annotated[int, Field(ge=0, le=1023)] | Literal["auto"] | None = None
    """RoCE GID index for this rail; overrides network.gid_index."""
    pci: Annotated[str | None, Field(pattern=_PCI)] = None
    """PCI address of the port's function, e.g. '0000:18:00.0' (SR-IOV device selection)."""
    netdev: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_.-]{1,15}$")] = None
    """The port's network interface, e.g. 'ibp24s0' (IPoIB parent, RDMA shared device selection)."""
    pod_subnet: Annotated[IPv4Network | None, Lax] = None
    """Pod address pool of this rail (nv-ipam IPPool), e.g. '10.100.0.0/22'."""

    @property
    def resource_name(self) -> str:
        """The extended resource a pod requests for this rail."""
        return self.resource or f"rdma/{self.name}"


class Network(Strict):
    """Pod networking and GPUDirect RDMA."""

    socket_ifname: str = "eth0"
    """Interface NCCL uses for bootstrap (NCCL_SOCKET_IFNAME); the pod's eth0, carried over the bond."""
    gid_index: Annotated[int, Field(ge=0, le=1023)] | Literal["auto"] | None = None
    """RoCE GID index: a number, or 'auto' to use the RoCE v2 entry with an IPv4 address."""
    gpudirect: Annotated[GpuDirect, Lax] = GpuDirect.DMABUF
    """GPUDirect RDMA path: dmabuf, peermem (nvidia_peermem module) or off."""
    management_bond: str | None = "bond0"
    """Host bond carrying management and pod traffic (802.3ad), for host setup."""


class Resources(Strict):
    """Requests (and limits) of the head pod."""

    cpu: Annotated[int, Field(ge=1, le=1 << 20)]
    memory_gib: Annotated[int, Field(ge=1, le=1 << 30)]
    gpus: Annotated[int, Field(ge=0, le=1024)] = 0
    """GPUs for the head; 0 keeps GPU work off it."""


class Workers(Strict):
    """The GPU worker group: one pod per node is the intended shape."""

    group: Annotated[str, Field(pattern=_NAME)] = "gpu"
    """KubeRay worker group name."""
    replicas: Annotated[int, Field(ge=0, le=10_000)] = 1
    """Default number of workers (launch(workers=N) overrides)."""
    gpus: Annotated[int, Field(ge=0, le=1024)] = 8
    """GPUs per worker pod (nvidia.com/gpu and Ray num-gpus)."""
    cpu: Annotated[int, Field(ge=1, le=1 << 20)]
    """CPU cores per worker pod."""
    memory_gib: Annotated[int, Field(ge=1, le=1 << 30)]
    """Memory per worker pod in GiB."""
    shm_gib: Annotated[int, Field(ge=1, le=1 << 30)] = 64
    """Size of the memory-backed /dev/shm (Ray object store spill and NCCL's SHM transport)."""


class RayClient(Strict):
    """Pods outside the cluster allowed to reach the head's job API and Ray client port."""

    namespace: Annotated[str | None, Field(pattern=_NAME)] = None
    """Their namespace; unset means the cluster's own namespace."""
    pod_labels: dict[str, str] = {}
    """Only pods with all these labels; empty means every pod of the namespace."""


class RayAccess(Strict):
    """Who may reach the Ray pods over the pod network (a NetworkPolicy per cluster)."""

    network_policy: bool = True
    """Render and apply the NetworkPolicies; false leaves the pods open to every pod of the cluster."""
    clients: list[RayClient] = []
    """Pods (e.g. notebooks) that may use the dashboard/job API (8265) and Ray client (10001) of the head."""
    monitoring_namespace: Annotated[str | None, Field(pattern=_NAME)] = None
    """Namespace of the Prometheus that scrapes Ray's metrics port (8080) on every pod."""


class Ray(Strict):
    """How Ray runs on the cluster (KubeRay RayCluster)."""

    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    """Ray version of the image (RayCluster spec.rayVersion)."""
    image: str
    """Container image for head and workers."""
    namespace: Annotated[str, Field(pattern=_NAME)] = "default"
    """Default Kubernetes namespace."""
    head: Resources
    workers: Workers
    auth: Literal["token", "none"] = "token"
    """'token' (default): Ray token authentication, the token in a Secret owned by the RayCluster; 'none' opts out."""
    run_as_user: Annotated[int | None, Field(ge=1)] = 1000
    """Non-root uid the image runs as (rayproject/ray: 1000); null for an image that needs root."""
    image_has_aiinfra: bool = True
    """The image contains aiinfra: workers export the node-refined NCCL environment before ray start."""
    access: RayAccess = RayAccess()
    storage: Storage | None = None
    """Shared storage for Ray Train checkpoints (a PVC, an NFS export or an object store URI); a multi-node
    aiinfra.train.fit needs it."""

    @model_validator(mode="after")
    def _versions_agree(self) -> Ray:
        problems = definition_problems(self.version, self.image, self.auth)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Topology(Strict):
    """Fabric layout as node labels, for placement."""

    labels: list[str] = []
    """Node label keys carrying fabric location, innermost first (e.g. leaf, then spine)."""
    keep_within: str | None = None
    """A key of `labels`: when set, all workers of a cluster must share its value."""


class Nccl(Strict):
    """NCCL settings beyond those derived from the rails."""

    debug: Literal["VERSION", "WARN", "INFO", "TRACE"] = "WARN"
    """NCCL_DEBUG level (INFO shows the transports chosen)."""
    env: dict[str, str] = {}
    """Extra environment, applied last; unknown NCCL_* names are warned about."""


class Local(Strict):
    """The local backend: Ray nodes as processes on this machine."""

    cpus_per_worker: Annotated[int, Field(ge=1, le=1 << 20)] = 1
    """Logical CPUs each local worker node offers."""
    gpus_per_worker: Annotated[int, Field(ge=0, le=1024)] = 0
    """GPUs each local worker node offers (on a workstation with GPUs)."""


class ClusterDefinition(Strict):
    """A cluster of identical GPU nodes, as one YAML document."""

    name: Annotated[str, Field(pattern=_NAME)]
    """Definition name (DNS label); the default cluster name."""
    description: str = ""
    """One line for people: what this cluster is."""
    backend: Literal["kubernetes", "local"] = "kubernetes"
    """kubernetes (a KubeRay RayCluster) or local (Ray processes on this machine)."""
    gpu: Gpu | None = None
    node: Node | None = None
    rails: list[Rail] = []
    network: Network = Network()
    ray: Ray | None = None
    topology: Topology = Topology()
    nccl: Nccl = Nccl()
    local: Local = Local()
    operators: Operators = Operators()
    """How the NVIDIA Network Operator and GPU Operator are deployed (aiinfra net deploy)."""

    source: Annotated[str, Field(exclude=True)] = ""
    """File this definition came from (set by the loader)."""

    def rail_gid_index(self, rail: Rail) -> int | Literal["auto"] | None:
        """The GID index that applies to a RoCE rail (rail override, else network-wide)."""
        return rail.gid_index if rail.gid_index is not None else self.network.gid_index


def definition_from_env(environ: Mapping[str, str]) -> ClusterDefinition | None:
    """The definition a RayCluster pod carries in AIINFRA_DEFINITION, if any.

    Example:
        >>> definition_from_env({}) is None
        True
    """
    raw = environ.get(DEFINITION_ENV)
    if not raw:
        return None
    return ClusterDefinition.model_validate_json(raw)
