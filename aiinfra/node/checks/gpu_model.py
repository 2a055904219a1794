"""The GPU model check: the GPUs found are the model the definition declares (an H200 node is not
an A800 one, whatever their count).

Example:
    >>> gpu_model_matches("NVIDIA H200", "A800-SXM4-80GB", "NVIDIA-A800-SXM4-80GB")
    False
"""

from __future__ import annotations

from collections.abc import Mapping

from aiinfra.definition.model import ClusterDefinition
from aiinfra.findings import Finding
from aiinfra.node.checks import node_check
from aiinfra.node.discovery import NodeInventory


def gpu_model_matches(nvml_name: str, model: str, product: str) -> bool:
    """Whether NVML's device name is the definition's GPU: by the GPU feature discovery
    product label (the NVML name, spaces as dashes) or by the model without the vendor.

    Example:
        >>> gpu_model_matches("NVIDIA H100 80GB HBM3", "H100-SXM5-80GB", "NVIDIA-H100-80GB-HBM3")
        True
    """
    name = nvml_name.strip()
    bare = name.removeprefix("NVIDIA ").strip()
    return name.replace(" ", "-").lower() == product.lower() or bare.lower() == model.lower()


@node_check("gpu-model", order=15)
def check_gpu_model(inv: NodeInventory, d: ClusterDefinition | None, environ: Mapping[str, str]) -> list[Finding]:
    """A finding when any GPU is not the definition's model (nothing without a definition or NVML)."""
    if d is None or d.gpu is None or inv.gpu_error:
        return []
    wrong = sorted({g.name for g in inv.gpus if not gpu_model_matches(g.name, d.gpu.model, d.gpu.product)})
    if not wrong:
        return []
    return [
        Finding(
            "gpu-model",
            "error",
            "node",
            f"GPUs are {', '.join(wrong)}; the definition expects {d.gpu.model} "
            f"(nvidia.com/gpu.product={d.gpu.product})",
            "run on a node of this cluster, or check against the definition that describes this hardware",
        )
    ]
