"""Fake GPU nodes for KWOK, shaped by a cluster definition.

Every node carries what the real node would advertise after the NVIDIA GPU
operator, GPU feature discovery and the RDMA shared-device or SR-IOV device
plugin ran: ``nvidia.com/gpu`` and one extended resource per rail in
capacity/allocatable, the GPU product/count labels, and fabric topology
labels (innermost key first, e.g. leaf then spine) that group nodes the way
a rail-optimised fat tree does. KWOK manages nodes annotated
``kwok.x-k8s.io/node: fake`` and makes their pods Running.

Example:
    >>> from aiinfra.definition import load_definition
    >>> from aiinfra.sim.nodes import node_manifest
    >>> n = node_manifest(load_definition("clusters/a800-ib.yaml"), 5, per_group=2)
    >>> n["status"]["capacity"]["nvidia.com/gpu"], n["metadata"]["labels"]["network.topology.nvidia.com/leaf"]
    ('8', 'leaf2')
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from aiinfra.contract import SIM_LABEL
from aiinfra.definition.model import ClusterDefinition, RailResourceKind
from aiinfra.errors import AiinfraError
from aiinfra.sim.rest import Rest

KWOK_ANNOTATION = "kwok.x-k8s.io/node"
PROCESS_NODE_LABEL = "aiinfra.io/sim-node"
"""``process`` on nodes whose pods the node agent runs (aiinfra.sim.agent)."""
NODES_PER_GROUP = 2
"""Default nodes under one leaf switch; each further topology level groups this many of the level below
(so 4 nodes make 2 leaves under 1 spine: enough to see topology affinity act)."""
RDMA_SHARED_PER_RAIL = 64
"""What k8s-rdma-shared-dev-plugin advertises per HCA (its rdmaHcaMax)."""
SRIOV_VFS_PER_RAIL = 8
"""Virtual functions the SR-IOV device plugin advertises per rail."""


def node_name(definition: ClusterDefinition, index: int) -> str:
    return f"{definition.name}-node-{index:04d}"


def topology_labels(definition: ClusterDefinition, index: int, per_group: int = NODES_PER_GROUP) -> dict[str, str]:
    """Fabric labels of node ``index``: level k (innermost 0) groups per_group**(k+1) consecutive nodes."""
    labels = {}
    group = index
    for key in definition.topology.labels:
        group //= max(1, per_group)
        short = key.rsplit("/", 1)[-1].rsplit(".", 1)[-1] or "group"
        labels[key] = f"{short}{group}"
    return labels


def resources(definition: ClusterDefinition) -> dict[str, str]:
    """Capacity (= allocatable) of one node."""
    res: dict[str, int] = {"pods": 110, "ephemeral-storage": 0}
    if definition.node:
        res["cpu"] = definition.node.cpu
    if definition.gpu:
        res["nvidia.com/gpu"] = definition.gpu.per_node
    for rail in definition.rails:
        per = RDMA_SHARED_PER_RAIL if rail.resource_kind == RailResourceKind.RDMA_SHARED else SRIOV_VFS_PER_RAIL
        res[rail.resource_name] = res.get(rail.resource_name, 0) + per
    out = {k: str(v) for k, v in res.items()}
    out["ephemeral-storage"] = "2Ti"
    out["memory"] = f"{definition.node.memory_gib}Gi" if definition.node else "64Gi"
    out.setdefault("cpu", "16")
    return out


def node_manifest(
    definition: ClusterDefinition, index: int, per_group: int = NODES_PER_GROUP, process: bool = False
) -> dict:
    """The Node object for node ``index`` of the simulated cluster: a KWOK fake, or (``process``) one whose
    pods the node agent really runs (no KWOK annotation, so KWOK leaves it and its pods alone).

    Example:
        >>> from aiinfra.definition import load_definition
        >>> n = node_manifest(load_definition("clusters/a800-ib.yaml"), 0, process=True)
        >>> n["metadata"]["labels"][PROCESS_NODE_LABEL], KWOK_ANNOTATION in n["metadata"]["annotations"]
        ('process', False)
    """
    name = node_name(definition, index)
    kind = "process" if process else "kwok"
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": kind,
        "type": kind,
        SIM_LABEL: definition.name,
    }
    if process:
        labels[PROCESS_NODE_LABEL] = "process"
    if definition.gpu:
        labels.update(
            {
                "nvidia.com/gpu.present": "true",
                "nvidia.com/gpu.product": definition.gpu.product,
                "nvidia.com/gpu.count": str(definition.gpu.per_node),
                "nvidia.com/gpu.memory": str(definition.gpu.memory_gib * 1024),
            }
        )
    if definition.rails:
        labels["feature.node.kubernetes.io/rdma.available"] = "true"
    labels.update(topology_labels(definition, index, per_group))
    res = resources(definition)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", **({} if process else {KWOK_ANNOTATION: "fake"})},
        },
        "spec": {},
        "status": {"capacity": res, "allocatable": dict(res), "phase": "Pending"},
    }


def register_nodes(
    api: Rest,
    definition: ClusterDefinition,
    indices: list[int],
    per_group: int = NODES_PER_GROUP,
    workers: int = 8,
    process: frozenset[int] = frozenset(),
) -> list[str]:
    """Create the nodes with these indices (existing ones are left alone; those in ``process`` are process-backed)."""
    wanted = [node_manifest(definition, i, per_group, process=i in process) for i in indices]
    if not wanted:
        return []

    def create(node: dict) -> None:
        api.create("/api/v1/nodes", node)

    with ThreadPoolExecutor(max_workers=min(workers, len(wanted))) as pool:
        list(pool.map(create, wanted))
    return [n["metadata"]["name"] for n in wanted]


def list_sim_nodes(api: Rest) -> list[dict]:
    """Nodes the simulator registered (any cluster name)."""
    body = api.get(f"/api/v1/nodes?labelSelector={SIM_LABEL}") or {}
    return list(body.get("items", []))


def ready_count(nodes: list[dict]) -> int:
    """How many of ``nodes`` report condition Ready=True (set by KWOK or the node agent)."""
    ready = 0
    for node in nodes:
        for cond in node.get("status", {}).get("conditions", []) or []:
            if cond.get("type") == "Ready" and cond.get("status") == "True":
                ready += 1
    return ready


def wait_ready(api: Rest, cluster: str, count: int, timeout: float) -> None:
    """Wait until ``count`` nodes of simulated cluster ``cluster`` report Ready (KWOK sets it)."""
    deadline = time.monotonic() + timeout
    while True:
        nodes = [n for n in list_sim_nodes(api) if n["metadata"]["labels"].get(SIM_LABEL) == cluster]
        ready = ready_count(nodes)
        if ready >= count:
            return
        if time.monotonic() > deadline:
            raise AiinfraError(
                f"only {ready} of {count} fake nodes became Ready within {timeout:.0f}s "
                "(kwok, or the node agent for process nodes, marks them Ready; see logs/kwok.log and "
                "logs/node-agent.log in the state folder)"
            )
        time.sleep(0.25)
