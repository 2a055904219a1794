"""aiinfra: Ray training on Kubernetes GPU clusters wired with InfiniBand/RDMA.

Read the package top-down, one subpackage per layer (import rules in pyproject.toml,
checked by ``lint-imports``):

- ``errors``, ``findings``, ``contract`` (every name that crosses the pod boundary);
- ``definition``: the cluster definition model, its loader and JSON Schema;
- ``nccl``: the NCCL environment declared by the definition, refined on a node, read from logs;
- ``node``: what runs on a GPU node: discovery (GPUs, RDMA, PCIe) and the node checks;
- ``placement``: topology-aware placement (pure planner, fabric labels, Ray placement groups);
- ``k8s``: the pure RayCluster renderer and the Kubernetes client, preflight, port-forward;
- ``train`` (Ray Train with the fabric's NCCL environment) and ``bench`` (the NCCL benchmarks);
- ``launch``: ``launch()``/``connect()``, the local-Ray and KubeRay backends, progress;
- ``sim``: the simulated control plane; ``cli``: the thin command line.

Example:
    >>> import aiinfra
    >>> cluster = aiinfra.launch("clusters/local.yaml", workers=2)  # doctest: +SKIP
"""

from aiinfra.definition.loader import load_definition
from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import AiinfraError
from aiinfra.launch.cluster import Cluster, Job, connect, launch

__all__ = ["AiinfraError", "Cluster", "ClusterDefinition", "Job", "connect", "launch", "load_definition"]
__version__ = "0.1.0"
