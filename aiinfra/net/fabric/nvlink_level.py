"""NVLink inside each GPU node, the other half of level 3: the bundled benchmark's intra-node mode on the Ray cluster.

Each GPU node's GPUs form one group (:func:`aiinfra.bench.runner.run_ray`, mode ``intra``), measured and judged
as ``aiinfra bench`` judges them: against the definition's ``gpu.nvlink_gb_s`` (NCCL's ring reaches about 80% of
it) and against the other nodes; a node below is a finding named by its host. NCCL's transport inside a node is
read from its log by the bench (SHM between GPUs of an NVLink node is a warning there, and one here).

Example:
    >>> nvlink_level(d)                                                       # doctest: +SKIP
    NvlinkLevel(findings=[], notes=['NVLink: all_reduce 1 GiB, 2 node(s) measured'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiinfra.definition.model import ClusterDefinition
from aiinfra.findings import Finding

NVLINK_BYTES = 2**30
"""1 GiB per all_reduce: the plateau of the curve inside a node (the bench's MIN_VERDICT_BYTES)."""


@dataclass
class NvlinkLevel:
    """Findings per node, and what was (or could not be) measured."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def gpus_per_node(nodes: list[dict[str, Any]]) -> dict[str, int]:
    """GPUs of each alive Ray node that has any, by node id.

    Example:
        >>> gpus_per_node([{"NodeID": "a", "Alive": True, "Resources": {"GPU": 8.0}}, {"NodeID": "h", "Alive": True}])
        {'a': 8}
    """
    out = {}
    for n in nodes:
        gpus = int(float((n.get("Resources") or {}).get("GPU", 0)))
        if n.get("Alive") and gpus > 0:
            out[str(n["NodeID"])] = gpus
    return out


def nvlink_level(d: ClusterDefinition | None, backend: str = "nccl", expect_gb_s: float | None = None,
                 timeout_s: float = 600.0) -> NvlinkLevel:
    """Measure every GPU node of the connected Ray cluster inside itself; findings for the nodes below."""
    import ray

    from aiinfra.bench.config import BenchConfig
    from aiinfra.bench.runner import run_ray
    from aiinfra.bench.spec import MeasureSpec

    counts = gpus_per_node(ray.nodes())
    single = sorted(node_id[:8] for node_id, n in counts.items() if n < 2)
    if not counts or single:
        why = "no Ray node has GPUs" if not counts else f"node(s) {', '.join(single)} have a single GPU"
        return NvlinkLevel(notes=[f"NVLink: not measured: {why} (a group inside a node needs 2 or more)"])
    spec = MeasureSpec(("all_reduce",), (NVLINK_BYTES,), warmup=2, iters=10, check=False)
    config = BenchConfig(spec, mode="intra", backend=backend, definition=d, expect_gb_s=expect_gb_s,
                         timeout_s=timeout_s)
    result = run_ray(config)
    out = NvlinkLevel(notes=[f"NVLink: all_reduce {NVLINK_BYTES // 2**30} GiB, {len(result.groups)} node(s) "
                             f"measured ({backend})"])
    for v in result.verdicts:
        out.notes.append(f"NVLink: {v.group.removeprefix('node ')} {v.collective} {v.busbw:.1f} GB/s: {v.status}")
        if v.failed:
            out.findings.append(Finding(
                "nvlink-slow", "error", v.group.removeprefix("node "),
                f"{v.collective} busbw {v.busbw:.1f} GB/s inside the node: {v.reason}",
                "check `nvidia-smi nvlink -s` and `nvidia-smi topo -m` (links down, PCIe instead of NVLink), "
                "that Fabric Manager runs (NVSwitch systems), and the GPUs' clocks and throttling"))
    for g in result.groups:
        host = g.layout.name.removeprefix("node ")
        # Only SHM concerns NVLink; the bench's other transport notes (Socket network picked on one node) do not.
        out.findings += [Finding("nvlink-transport", "warning", host, w, "NCCL should use P2P over NVLink inside "
                                 "a node: unset NCCL_P2P_DISABLE / NCCL_P2P_LEVEL and check the topology")
                         for w in g.transports.get("warnings", []) if "SHM" in w]
    return out
