"""Run level 2 (the node checks) on every GPU node as Jobs, read one JSON result per node from the pod
logs (:mod:`aiinfra.net.fabric.marks` marks the bad nodes with a label and/or a NoSchedule taint).

KWOK nodes (annotation ``kwok.x-k8s.io/node``) run no containers: a Job there never prints anything, so
those nodes are reported as not checked (an ``info`` finding), never as passed.

Example:
    >>> result = run_node_checks(Kube(), d, "fabric-test", timeout=300)        # doctest: +SKIP
    >>> result.findings["gpu-017"][0].code                                     # doctest: +SKIP
    'rate-low'
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import AiinfraError
from aiinfra.findings import Finding
from aiinfra.k8s.client import Kube
from aiinfra.net.fabric.control_plane_read import gpu_node_selector
from aiinfra.net.fabric.node_check_job import NODE_LABEL, RUN_LABEL, node_check_job

KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NOT_RUN = "KWOK nodes run no containers: the node-check Job printed nothing, no check ran"
_DONE = ("Succeeded", "Failed")


@dataclass
class NodeLevel:
    """Per checked node its findings (device prefixed with the node), and the nodes no pod could check."""

    findings: dict[str, list[Finding]] = field(default_factory=dict)
    not_checked: dict[str, str] = field(default_factory=dict)

    def all_findings(self) -> list[Finding]:
        """Every node's findings, then one per node without a result (KWOK nodes together in one)."""
        out = [f for fs in self.findings.values() for f in fs]
        kwok = sorted(n for n, why in self.not_checked.items() if why == KWOK_NOT_RUN)
        if kwok:
            names = ", ".join(kwok[:3]) + (f" .. {kwok[-1]}" if len(kwok) > 3 else "")
            out.append(Finding("node-not-checked", "info", f"{len(kwok)} KWOK node(s)", f"{KWOK_NOT_RUN} ({names})",
                               "run the node check on real (or process-backed simulator) nodes"))
        out += [Finding("node-not-checked", "warning", n, why, "read the pod's events and log")
                for n, why in sorted(self.not_checked.items()) if why != KWOK_NOT_RUN]
        return out


def parse_result(node: str, log: str) -> list[Finding]:
    """The findings of one node from its pod's log (``aiinfra node check --json``), device prefixed by node.

    Example:
        >>> doc = {"ok": False, "findings": [{"code": "port-down", "severity": "error", "device": "mlx5_3:1",
        ...        "message": "port state DOWN", "action": "check the cable"}]}
        >>> [f.device for f in parse_result("gpu-1", "noise\\n" + json.dumps(doc))]
        ['gpu-1:mlx5_3:1']
        >>> parse_result("gpu-1", "Traceback ...")[0].code
        'node-check-unreadable'
    """
    start = log.find("{")
    try:
        doc = json.loads(log[start:]) if start >= 0 else None
        findings = [Finding(**{**f, "device": f"{node}:{f['device']}" if f["device"] else node})
                    for f in doc["findings"]] if isinstance(doc, dict) else None
    except (ValueError, KeyError, TypeError):
        findings = None
    if findings is None:
        tail = log.strip().splitlines()[-1][:200] if log.strip() else "empty log"
        return [Finding("node-check-unreadable", "error", node, f"the check printed no JSON result ({tail})",
                        "read the pod's log; is aiinfra installed in ray.image?")]
    return findings


def _gpu_nodes(kube: Kube, d: ClusterDefinition) -> tuple[list[str], dict[str, str]]:
    real, kwok = [], {}
    for node in kube.core.list_node(label_selector=gpu_node_selector(d)).items:
        if KWOK_ANNOTATION in (node.metadata.annotations or {}):
            kwok[node.metadata.name] = KWOK_NOT_RUN
        else:
            real.append(node.metadata.name)
    return sorted(real), kwok


def _wait_pods(kube: Kube, namespace: str, run: str, nodes: list[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        pods = {p.metadata.labels.get(NODE_LABEL): p
                for p in kube.core.list_namespaced_pod(namespace, label_selector=f"{RUN_LABEL}={run}").items}
        if all(n[:63] in pods and pods[n[:63]].status.phase in _DONE for n in nodes) or time.monotonic() > deadline:
            return pods
        time.sleep(1.0)


def run_node_checks(kube: Kube, d: ClusterDefinition, namespace: str, timeout: float = 300.0) -> NodeLevel:
    """One Job per GPU node (KWOK nodes excepted), wait for all, read each pod's JSON; the Jobs are deleted."""
    nodes, result_not_checked = _gpu_nodes(kube, d)
    result = NodeLevel(not_checked=result_not_checked)
    if not nodes:
        return result
    run = uuid.uuid4().hex[:6]
    batch: Any = kube.client.BatchV1Api(kube.api)
    jobs = [node_check_job(d, n, namespace, run) for n in nodes]
    try:
        for job in jobs:
            kube.apply(job)
        pods = _wait_pods(kube, namespace, run, nodes, timeout)
        for node in nodes:
            pod = pods.get(node[:63])
            if pod is None or pod.status.phase not in _DONE:
                phase = pod.status.phase if pod is not None else "no pod"
                result.not_checked[node] = f"no result within {timeout:.0f}s (pod: {phase})"
                continue
            log = kube.core.read_namespaced_pod_log(pod.metadata.name, namespace)
            result.findings[node] = parse_result(node, log)
    finally:
        for job in jobs:
            try:
                batch.delete_namespaced_job(job["metadata"]["name"], namespace, propagation_policy="Background")
            except kube.client.exceptions.ApiException as exc:
                if exc.status != 404:
                    raise AiinfraError(f"deleting Job {job['metadata']['name']}: {exc.status} {exc.reason}") from None
    return result

