"""The node half of the agent: Ready condition, addresses, kubelet endpoint and the node Lease.

The apiserver reaches a node's kubelet at its InternalIP and ``daemonEndpoints.kubeletEndpoint``
port (``--kubelet-preferred-address-types=InternalIP``): for process nodes that is kwok's kubelet
streaming server on 127.0.0.1, which serves logs and port-forward from the PortForward and Logs
objects the agent writes per pod. The Lease in ``kube-node-lease`` is what the node lifecycle
controller watches; the status heartbeat keeps the Ready condition fresh.

Example:
    >>> micro_time(0.0)
    '1970-01-01T00:00:00.000000Z'
"""

from __future__ import annotations

import time
from typing import Any

from aiinfra.sim.rest import ApiError, Rest

LEASE_SECONDS = 40
MERGE = "application/merge-patch+json"


def micro_time(t: float | None = None) -> str:
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e6):06d}Z"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def node_status(kubelet_port: int, since: str) -> dict[str, Any]:
    """The status fields a kubelet owns (capacity stays as registered)."""
    conditions = [
        {"type": t, "status": "False", "reason": f"KubeletHas{r}", "message": m}
        for t, r, m in (
            ("MemoryPressure", "SufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "NoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "SufficientPID", "kubelet has sufficient PID available"),
        )
    ]
    conditions.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                       "message": "aiinfra node agent is posting ready status"})  # fmt: skip
    for c in conditions:
        c["lastHeartbeatTime"], c["lastTransitionTime"] = now(), since
    return {
        "status": {
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
            "conditions": conditions,
            "phase": "Running",
            "nodeInfo": {"kubeletVersion": "aiinfra-sim-agent", "operatingSystem": "linux", "architecture": "amd64",
                         "containerRuntimeVersion": "aiinfra-sim://process", "kernelVersion": "", "osImage": "",
                         "kubeProxyVersion": "", "machineID": "", "systemUUID": "", "bootID": ""},
        }
    }  # fmt: skip


def heartbeat(api: Rest, node: str, kubelet_port: int, since: str) -> None:
    """Post the node's status and renew its Lease (created when missing)."""
    api.request("PATCH", f"/api/v1/nodes/{node}/status", node_status(kubelet_port, since), MERGE)
    path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}"
    spec = {"holderIdentity": node, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": micro_time()}
    try:
        api.request("PATCH", path, {"spec": spec}, MERGE)
    except ApiError as exc:
        if exc.status != 404:
            raise
        owner = api.get(f"/api/v1/nodes/{node}") or {}
        meta: dict[str, Any] = {"name": node, "namespace": "kube-node-lease"}
        if owner.get("metadata", {}).get("uid"):
            meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node,
                                        "uid": owner["metadata"]["uid"]}]  # fmt: skip
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}
        api.create("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease)
