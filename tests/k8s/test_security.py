"""Secure by default, checked by the real API server of the simulated cluster.

- Pod Security: a Pod built from each rendered template is server-side dry-run created in a
  namespace enforcing "restricted" (then "baseline", then "privileged"); the API server's own
  PodSecurity admission decides, and its rejection message is parsed for the violations.
- The NetworkPolicies pass a server-side dry run (which peers they admit: tests/test_network_policy.py).
- launch() creates the RayCluster first; the token Secret and the NetworkPolicies carry its uid as
  owner, and a launch failing after the RayCluster exists leaves nothing behind.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

import aiinfra
from aiinfra.errors import AiinfraError
from aiinfra.k8s.client import Kube
from aiinfra.k8s.network_policy import network_policies
from aiinfra.k8s.raycluster import LaunchOptions, raycluster

ROOT = Path(__file__).resolve().parents[2]
A800 = ROOT / "clusters" / "a800-ib.yaml"
KUBERNETES = [p for p in sorted((ROOT / "clusters").glob("*.yaml")) if aiinfra.load_definition(p).backend != "local"]


def enforce(kube: Kube, namespace: str, level: str) -> None:
    label = {"pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/enforce-version": "latest"}
    kube.core.patch_namespace(namespace, {"metadata": {"labels": label}})


def pod_from(template: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"p-{uuid.uuid4().hex[:6]}", "namespace": namespace, **template["metadata"]},
        "spec": template["spec"],
    }


def violations(kube: Kube, namespace: str, template: dict[str, Any]) -> dict[str, str]:
    """PodSecurity violations of a dry-run Pod, {check: detail}; {} when admitted."""
    try:
        kube.core.create_namespaced_pod(namespace, pod_from(template, namespace), dry_run="All")
    except kube.client.exceptions.ApiException as exc:
        assert exc.status == 403, exc.body
        # 'pods "p" is forbidden: violates PodSecurity "restricted:latest": name (detail), name (detail)'
        message = re.search(r'violates PodSecurity "[^"]+": (.*)', json.loads(exc.body)["message"])
        assert message, exc.body
        found = dict(re.findall(r"(?:^|, )([^(),]+?) \((.*?)\)(?=, [^(),]+ \(|$)", message.group(1)))
        assert found, f"unparsed rejection: {message.group(1)}"  # a rejection never reads as an admission
        return found
    return {}


@pytest.mark.parametrize("definition", KUBERNETES, ids=lambda p: p.stem)
def test_head_passes_restricted_and_workers_only_lack_ipc_lock(
    sim_cluster: Any, kube: Kube, namespace: str, definition: Path
) -> None:
    d = aiinfra.load_definition(definition)
    rc = raycluster(d, LaunchOptions(name="ps", namespace=namespace))
    head, worker = rc["spec"]["headGroupSpec"]["template"], rc["spec"]["workerGroupSpecs"][0]["template"]
    # An nfs volume (ray.storage.nfs) is one restricted refuses and baseline admits (docs/security.md).
    nfs = ["restricted volume types"] if d.ray and d.ray.storage and d.ray.storage.nfs else []
    enforce(kube, namespace, "restricted")
    assert list(violations(kube, namespace, head)) == nfs
    found = violations(kube, namespace, worker)
    assert sorted(found) == sorted(["unrestricted capabilities", *nfs]), found
    assert '"IPC_LOCK"' in found["unrestricted capabilities"]
    # Even "baseline" refuses IPC_LOCK (not in its list of default capabilities), and only that.
    enforce(kube, namespace, "baseline")
    assert list(violations(kube, namespace, worker)) == ["non-default capabilities"]
    enforce(kube, namespace, "privileged")
    assert violations(kube, namespace, worker) == {}


def test_the_check_can_fail(sim_cluster: Any, kube: Kube, namespace: str) -> None:
    rc = raycluster(aiinfra.load_definition(A800), LaunchOptions(name="ps", namespace=namespace))
    head = rc["spec"]["headGroupSpec"]["template"]
    enforce(kube, namespace, "restricted")
    as_rendered = set(violations(kube, namespace, head))  # its NFS storage volume, nothing else
    del head["spec"]["securityContext"]["runAsNonRoot"]
    head["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    broken = {"allowPrivilegeEscalation != false", "runAsNonRoot != true"}
    assert set(violations(kube, namespace, head)) == as_rendered | broken and not as_rendered & broken


@pytest.mark.parametrize("definition", KUBERNETES, ids=lambda p: p.stem)
def test_network_policies_pass_server_side_dry_run(
    sim_cluster: Any, kube: Kube, namespace: str, definition: Path
) -> None:
    policies = network_policies(aiinfra.load_definition(definition), "np", namespace)
    assert len(policies) == 2
    for policy in policies:
        served = kube.apply(policy, dry_run=True)
        assert served["spec"]["ingress"] == policy["spec"]["ingress"]


def test_owned_objects_carry_the_rayclusters_uid(sim_cluster: Any, kube: Kube, namespace: str) -> None:
    name = f"own-{uuid.uuid4().hex[:6]}"
    cluster = aiinfra.launch(A800, workers=1, name=name, namespace=namespace, timeout=180)
    try:
        uid = kube.get("ray.io/v1", "RayCluster", name, namespace)["metadata"]["uid"]
        secret = kube.get("v1", "Secret", f"{name}-ray-token", namespace)
        head = kube.get("networking.k8s.io/v1", "NetworkPolicy", f"{name}-ray-head", namespace)
        workers = kube.get("networking.k8s.io/v1", "NetworkPolicy", f"{name}-ray-workers", namespace)
        topology = kube.get("v1", "ConfigMap", f"{name}-topology", namespace)
        for obj in (secret, head, workers, topology):
            assert obj is not None
            assert [(o["kind"], o["uid"]) for o in obj["metadata"]["ownerReferences"]] == [("RayCluster", uid)]
        rc = kube.get("ray.io/v1", "RayCluster", name, namespace)
        assert rc["spec"].get("suspend") is False
    finally:
        cluster.down()
    for kind, obj_name in (("Secret", f"{name}-ray-token"), ("ConfigMap", f"{name}-topology")):
        assert kube.get("v1", kind, obj_name, namespace) is None
    assert kube.get("networking.k8s.io/v1", "NetworkPolicy", f"{name}-ray-head", namespace) is None


def test_a_launch_failing_after_the_raycluster_leaves_nothing(
    sim_cluster: Any, kube: Kube, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_apply = Kube.apply

    def failing_apply(self: Kube, obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        if obj["kind"] == "NetworkPolicy":
            raise AiinfraError("injected: NetworkPolicy refused")
        return real_apply(self, obj, dry_run)

    monkeypatch.setattr(Kube, "apply", failing_apply)
    with pytest.raises(AiinfraError, match="injected"):
        aiinfra.launch(A800, workers=1, name="fails", namespace=namespace, timeout=60)
    assert kube.get("ray.io/v1", "RayCluster", "fails", namespace) is None
    # The Secret, created before the failure and owned by the RayCluster, went with it.
    assert kube.get("v1", "Secret", "fails-ray-token", namespace) is None
    assert kube.core.list_namespaced_pod(namespace).items == []
