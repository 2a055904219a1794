"""The fixture machines that the node checks' examples (and doctests) run on.

Each is a sysfs/procfs tree that tests/fixtures/make_sysfs.py builds under tests/fixtures/sysfs/<machine>
(at the start of every test session) with the NVML recording of the same machine from tests/fixtures/nvml/.
Paths are relative to the repository root, where the doctests run: this is for examples in a source
checkout, not for a node (``aiinfra node check`` discovers the node it runs on).

Example:
    >>> inv = fixture_node("a800-ib")
    >>> len(inv.gpus), [d.name for d in inv.rdma][:3]
    (8, ['mlx5_0', 'mlx5_1', 'mlx5_2'])
"""

from __future__ import annotations

import json
from pathlib import Path

from aiinfra.node.discovery import NodeInventory, discover_node
from aiinfra.node.gpu import RecordedNvml

SYSFS = Path("tests/fixtures/sysfs")
NVML = Path("tests/fixtures/nvml")
RECORDING = {"a800-ib": "a800-8gpu", "a800-ib-degraded": "a800-8gpu", "roce-h100": "h100-8gpu", "h200-vm": "2xh200"}
"""Machine -> the NVML recording of its GPUs."""


def fixture_node(machine: str) -> NodeInventory:
    """The discovered inventory of fixture ``machine`` (a key of :data:`RECORDING`), GPUs from its recording.

    Example:
        >>> fixture_node("h200-vm").rdma
        ()
    """
    recording = json.loads((NVML / f"{RECORDING[machine]}.json").read_text(encoding="utf-8"))
    return discover_node(SYSFS / machine, nvml=RecordedNvml(recording))
