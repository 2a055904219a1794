"""Level 2 of the fabric test as Ray tasks: ``aiinfra node check --json`` once on every Ray GPU node.

The alternative to the node-check Jobs (:mod:`aiinfra.net.fabric.node_level`) when the test is pointed at a
Ray cluster (``aiinfra net test --ray ADDRESS``). Each task is pinned to its node (node affinity with
``soft=False``: it runs there or not at all), asks for no CPU or GPU (so it runs beside training that holds
them all) and runs the same command as the Job's pod, whose one JSON document :func:`parse_result` reads.
A node whose task failed, or had no result within the timeout (a hung raylet, a wedged driver), is *not
checked*: never passed.

A node is named by its Ray label ``aiinfra.io/k8s-node`` (the rendered RayCluster sets it to the Kubernetes
node, so ``--label``/``--taint`` mark the right node), else by its address and node id. It reads its
``/sys`` and ``/proc`` under ``$AIINFRA_SYSFS_ROOT`` when the node's Ray processes have it set (a host
tree mounted elsewhere, or a simulated node), else under ``/``.

Example:
    >>> result = run_node_checks_ray(d, timeout=120, address="auto")         # doctest: +SKIP
    >>> sorted(result.findings), result.not_checked                           # doctest: +SKIP
    (['gpu-017', 'gpu-018'], {})
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from aiinfra.contract import DEFINITION_ENV, K8S_NODE_LABEL
from aiinfra.definition.model import ClusterDefinition
from aiinfra.net.fabric.node_check_job import DEADLINE_S
from aiinfra.net.fabric.node_level import NodeLevel, parse_result

SYSFS_ROOT_ENV = "AIINFRA_SYSFS_ROOT"
"""On a Ray node: where that node's /sys and /proc are (default /)."""


@dataclass(frozen=True)
class RayNode:
    """A live Ray node that advertises GPUs, and the name its result is reported under."""

    node_id: str
    name: str


def gpu_nodes(nodes: list[dict[str, Any]]) -> list[RayNode]:
    """The alive nodes with GPUs from ``ray.nodes()``, named by their Kubernetes node label when they carry one.

    Example:
        >>> gpu_nodes([{"NodeID": "ab12cd34ef", "Alive": True, "NodeManagerAddress": "10.0.0.5",
        ...             "Resources": {"GPU": 8.0}, "Labels": {"aiinfra.io/k8s-node": "gpu-017"}},
        ...            {"NodeID": "ff00", "Alive": True, "Resources": {"CPU": 4.0}},
        ...            {"NodeID": "12345678aa", "Alive": True, "NodeManagerAddress": "10.0.0.6",
        ...             "Resources": {"GPU": 8.0}}])
        [RayNode(node_id='ab12cd34ef', name='gpu-017'), RayNode(node_id='12345678aa', name='10.0.0.6-12345678')]
    """
    out: list[RayNode] = []
    taken: set[str] = set()
    for n in nodes:
        if not n.get("Alive") or float((n.get("Resources") or {}).get("GPU", 0)) <= 0:
            continue
        node_id = str(n["NodeID"])
        name = (n.get("Labels") or {}).get(K8S_NODE_LABEL) or f"{n.get('NodeManagerAddress', 'ray')}-{node_id[:8]}"
        if name in taken:  # two Ray nodes on one Kubernetes node: both are checked, told apart by id
            name = f"{name}-{node_id[:8]}"
        taken.add(name)
        out.append(RayNode(node_id, name))
    return out


def check_this_node(definition: str | None, timeout: float) -> dict[str, Any]:
    """The Ray task: run the node check here as the Job's pod does; its exit code and output.

    Example:
        >>> out = check_this_node(None, 60)                                   # doctest: +SKIP
        >>> json.loads(out["stdout"])["ok"]                                   # doctest: +SKIP
        True
    """
    env = dict(os.environ)
    if definition is not None:
        env[DEFINITION_ENV] = definition
    root = env.get(SYSFS_ROOT_ENV) or "/"
    run = subprocess.run([sys.executable, "-m", "aiinfra", "node", "check", "--json", "--sysfs-root", root],
                         capture_output=True, text=True, env=env, timeout=timeout, check=False)
    return {"returncode": run.returncode, "stdout": run.stdout, "stderr": run.stderr}


def _failure(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return f"the Ray task failed: {type(exc).__name__}: {(lines[-1] if lines else '')[:200]}"


def run_node_checks_ray(d: ClusterDefinition | None, timeout: float = 300.0, address: str | None = None) -> NodeLevel:
    """One pinned task per Ray GPU node, waited for ``timeout`` seconds in all; one result per node.

    ``d`` goes to every task (None: each node uses the definition its pod carries). Connects to ``address``
    unless this process is already a Ray driver, and then disconnects again.
    """
    import ray

    own = connect_ray(address)
    try:
        return _run(d, timeout)
    finally:
        if own:
            ray.shutdown()


def connect_ray(address: str | None) -> bool:
    """Connect to the Ray cluster at ``address`` unless this process is a Ray driver already; whether it did.

    The fabric test's levels 2 and 3 share it; whoever connected disconnects (``ray.shutdown()``).
    """
    import ray

    if ray.is_initialized():
        return False
    ray.init(address=address, logging_level="WARNING", log_to_driver=False, include_dashboard=False)
    return True


def _run(d: ClusterDefinition | None, timeout: float) -> NodeLevel:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    definition = json.dumps(d.model_dump(mode="json"), sort_keys=True) if d is not None else None
    task = ray.remote(check_this_node)
    nodes = gpu_nodes(ray.nodes())
    refs = {node.name: task.options(
        num_cpus=0, max_retries=0, name=f"aiinfra-node-check-{node.name}",
        scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False),
    ).remote(definition, min(timeout, DEADLINE_S)) for node in nodes}
    _, pending = ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout) if refs else ([], [])
    result = NodeLevel()
    for name, ref in refs.items():
        if ref in pending:
            result.not_checked[name] = f"no result within {timeout:.0f}s (the Ray task never ran or hung)"
            try:
                ray.cancel(ref, force=True)
            except Exception:  # best effort: a task on an unreachable node cannot always be cancelled
                pass
            continue
        try:
            out = ray.get(ref)
        except Exception as exc:  # RayTaskError, WorkerCrashedError, NodeDiedError, unschedulable ...
            result.not_checked[name] = _failure(exc)
            continue
        log = out["stdout"] if "{" in out["stdout"] else out["stdout"] + out["stderr"]
        result.findings[name] = parse_result(name, log)
    return result
