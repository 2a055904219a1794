"""aiinfra: Ray training on Kubernetes GPU clusters wired with InfiniBand/RDMA.

Read the package top-down:

- the definition model: ``definition`` (+ ``definition_loader``, ``schema``);
- what is derived from it: ``nccl_env``, ``kuberay``;
- what talks to Kubernetes or Ray: ``kube``, ``kuberay_cluster``, ``local_ray``, ``cluster``, ``sim``;
- what runs on a node: ``discovery``, ``nccl``, ``node_check``, ``nccl_log``, ``placement``, ``train``, ``bench``.

Example:
    >>> import aiinfra
    >>> cluster = aiinfra.launch("clusters/local.yaml", workers=2)  # doctest: +SKIP
"""

from aiinfra.cluster import Cluster, Job, connect, launch
from aiinfra.definition import ClusterDefinition, load_definition
from aiinfra.errors import AiinfraError

__all__ = ["AiinfraError", "Cluster", "ClusterDefinition", "Job", "connect", "launch", "load_definition"]
__version__ = "0.1.0"
