"""aiinfra: Ray training on Kubernetes GPU clusters wired with InfiniBand/RDMA.

Read the package top-down:

- the definition model: ``definition`` (+ ``definition_loader``, ``schema``, ``nccl_variables``);
- what is derived from it: ``nccl_env`` (declared NCCL environment), ``kuberay`` (the RayCluster);
- what talks to Kubernetes or Ray: ``kube``, ``preflight``, ``portforward``, ``kuberay_cluster``,
  ``local_ray``, ``backend``, ``cluster`` (launch/connect), ``progress``, ``sim`` (simulated control plane);
- what runs on a node: ``discovery`` (+ ``discovery_gpu``, ``discovery_rdma``, ``pcie``), ``nccl``,
  ``node_check`` (+ ``node_check_host``), ``nccl_log`` (+ ``nccl_log_findings``), ``findings``,
  ``placement`` (+ ``placement_plan``, ``placement_topology``), ``train`` (+ ``train_backend``), ``bench``.

Example:
    >>> import aiinfra
    >>> cluster = aiinfra.launch("clusters/local.yaml", workers=2)  # doctest: +SKIP
"""

from aiinfra.cluster import Cluster, Job, connect, launch
from aiinfra.definition import ClusterDefinition, load_definition
from aiinfra.errors import AiinfraError

__all__ = ["AiinfraError", "Cluster", "ClusterDefinition", "Job", "connect", "launch", "load_definition"]
__version__ = "0.1.0"
