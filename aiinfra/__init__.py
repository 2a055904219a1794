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

The names below are imported on first use, so node-side code (``aiinfra.node``, the
host-network scripts, the exporter) runs on a bare node without Ray or the Kubernetes client.

Example:
    >>> import aiinfra
    >>> cluster = aiinfra.launch("clusters/local.yaml", workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from aiinfra.errors import AiinfraError

if TYPE_CHECKING:
    from aiinfra.definition.loader import load_definition
    from aiinfra.definition.model import ClusterDefinition
    from aiinfra.launch.cluster import Cluster, Job, connect, launch

__all__ = ["AiinfraError", "Cluster", "ClusterDefinition", "Job", "connect", "launch", "load_definition"]
__version__ = "0.1.0"

_LAZY = {
    "Cluster": "aiinfra.launch.cluster",
    "Job": "aiinfra.launch.cluster",
    "connect": "aiinfra.launch.cluster",
    "launch": "aiinfra.launch.cluster",
    "ClusterDefinition": "aiinfra.definition.model",
    "load_definition": "aiinfra.definition.loader",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aiinfra' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """Keeps ``aiinfra.launch`` the function whichever is imported first.

    Importing the subpackage ``aiinfra.launch`` (``import aiinfra.launch.cluster``, the CLI's
    ``clusters`` module) makes the import system bind it as this package's attribute ``launch``,
    hiding the lazy function. The import machinery finds subpackages through sys.modules, so not
    binding them here changes nothing else.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
