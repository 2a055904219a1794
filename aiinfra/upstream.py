"""Every upstream version aiinfra deploys or renders for, in one place.

Pure data (no imports beyond the standard library): the network helpers, the
monitoring helpers and the simulator all read their pins here, so a version
bump is one edit, checked by tests against the offline mirror of the charts
(``AIINFRA_UPSTREAM_MIRROR``, see ``../shared/vendor/README.md``).

Two Kubernetes ranges exist per chart and both are recorded: the chart's own
``kubeVersion`` constraint (what ``helm install`` enforces, copied from its
``Chart.yaml``; a test compares it with the mirror) and the range the vendor's
platform-support page validates, which is what aiinfra refuses outside of.

Example:
    >>> NETWORK_OPERATOR.version
    '26.4.1'
    >>> NETWORK_OPERATOR.supports("1.34.2")
    True
    >>> NETWORK_OPERATOR.supports("1.36.0")
    False
    >>> PROMETHEUS_OPERATOR_CRDS.version
    'v0.93.1'
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    """One pinned Helm chart and where to get it."""

    name: str
    """Chart name (``helm pull REPO/NAME``)."""
    version: str
    """Chart version passed to ``helm --version``."""
    repo_name: str
    """The name users give the repository in ``helm repo add``."""
    repo_url: str
    """Helm repository the chart is published in."""
    kube_version: str
    """The chart's own ``kubeVersion`` constraint, as in its Chart.yaml."""
    supported_kube: tuple[str, str]
    """Oldest and newest Kubernetes minor the vendor validates (inclusive), e.g. ('1.31', '1.35')."""
    mirror_dir: str
    """The chart folder inside the upstream mirror (``$AIINFRA_UPSTREAM_MIRROR``)."""
    namespace: str
    """Namespace the release is installed into."""
    release: str
    """Helm release name."""

    def supports(self, kube: str) -> bool:
        """Whether Kubernetes ``kube`` ('1.34', 'v1.34.2') is inside the validated range."""
        minor = kube_minor(kube)
        low, high = (kube_minor(v) for v in self.supported_kube)
        return low <= minor <= high

    @property
    def reference(self) -> str:
        """``repo/name`` as helm commands take it."""
        return f"{self.repo_name}/{self.name}"


def kube_minor(version: str) -> tuple[int, int]:
    """(major, minor) of a Kubernetes version string.

    Example:
        >>> kube_minor("v1.34.2+k3s1")
        (1, 34)
    """
    match = re.match(r"^v?(\d+)\.(\d+)", version.strip())
    if not match:
        raise ValueError(f"not a Kubernetes version: {version!r}")
    return int(match.group(1)), int(match.group(2))


NETWORK_OPERATOR = Chart(
    name="network-operator",
    version="26.4.1",
    repo_name="nvidia",
    repo_url="https://helm.ngc.nvidia.com/nvidia",
    kube_version=">= 1.21.0-0",
    # Platform-support page of the 26.4 line: Kubernetes 1.31 to 1.35.
    supported_kube=("1.31", "1.35"),
    mirror_dir="network-operator-v26.4.1/deployment/network-operator",
    namespace="nvidia-network-operator",
    release="network-operator",
)
NETWORK_OPERATOR_IMAGE_TAG = "network-operator-v26.4.1"
"""Tag of every component image the operator deploys (nvcr.io/nvidia/mellanox/*)."""
NETWORK_OPERATOR_REPOSITORY = "nvcr.io/nvidia/mellanox"
DOCA_DRIVER_VERSION = "doca3.4.1-26.04-1.1.0.0-1"
"""doca-driver image tag for the container-driver mode (as in the release's example NicClusterPolicy)."""

GPU_OPERATOR = Chart(
    name="gpu-operator",
    version="v26.7.0",
    repo_name="nvidia",
    repo_url="https://helm.ngc.nvidia.com/nvidia",
    kube_version=">= 1.16.0-0",
    # GPU Operator platform support: Kubernetes 1.32 to 1.35 (26.x line).
    supported_kube=("1.32", "1.35"),
    mirror_dir="gpu-operator-v26.7.0/deployments/gpu-operator",
    namespace="gpu-operator",
    release="gpu-operator",
)

KUBE_PROMETHEUS_STACK = Chart(
    name="kube-prometheus-stack",
    version="88.5.3",
    repo_name="prometheus-community",
    repo_url="https://prometheus-community.github.io/helm-charts",
    kube_version=">=1.25.0-0",
    supported_kube=("1.25", "1.36"),
    mirror_dir="kube-prometheus-stack-88.5.3/charts/kube-prometheus-stack",
    namespace="monitoring",
    release="kube-prometheus-stack",
)


@dataclass(frozen=True)
class CrdSet:
    """A set of CRDs shipped inside a chart."""

    name: str
    version: str
    mirror_globs: tuple[str, ...]
    """CRD files inside the mirror, relative to its root (globs allowed)."""


PROMETHEUS_OPERATOR_CRDS = CrdSet(
    name="prometheus-operator",
    version="v0.93.1",  # kube-prometheus-stack 88.5.3 appVersion, its charts/crds subchart
    mirror_globs=(f"{KUBE_PROMETHEUS_STACK.mirror_dir}/charts/crds/crds/crd-*.yaml",),
)

_NO = NETWORK_OPERATOR.mirror_dir
NETWORK_OPERATOR_CRDS = CrdSet(
    name="network-operator",
    version=NETWORK_OPERATOR.version,
    mirror_globs=(
        f"{_NO}/crds/*.yaml",
        f"{_NO}/charts/sriov-network-operator/crds/*.yaml",
        f"{_NO}/charts/node-feature-discovery/crds/*.yaml",
        "network-operator-v26.4.1/manifests/state-nv-ipam-cni/005-nv-ipam.nvidia.com_*.yaml",
    ),
)
"""The operator's own CRDs (NicClusterPolicy, networks, NAD), SR-IOV, NFD and nv-ipam's IPPool/CIDRPool."""

GPU_OPERATOR_CRDS = CrdSet(
    name="gpu-operator",
    version=GPU_OPERATOR.version,
    mirror_globs=(f"{GPU_OPERATOR.mirror_dir}/crds/*.yaml",),
)

CHARTS = (NETWORK_OPERATOR, GPU_OPERATOR, KUBE_PROMETHEUS_STACK)
MIRROR_ENV = "AIINFRA_UPSTREAM_MIRROR"
"""Environment variable naming the offline mirror of upstream charts and CRDs."""
