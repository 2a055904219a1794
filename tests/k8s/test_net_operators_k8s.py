"""The operators' objects against the simulated cluster's real API server and the current upstream CRDs.

Dry runs check every rendered custom resource against the CRDs ``sim up``
installs from the upstream mirror; the deploy test drives the real helm with
locally packaged stand-in charts (the real ones cannot be fetched here); the
wait test plays the operators' part by writing the policy's status and the
nodes' rail resources.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiinfra.definition import load_definition
from aiinfra.errors import LaunchTimeout
from aiinfra.k8s.client import Kube
from aiinfra.net.deploy import deploy, readiness, undeploy, wait_ready
from aiinfra.net.helm import ChartSource, Helm
from aiinfra.net.operator_bundle import operator_bundle
from aiinfra.net.operators import NCP_API, NCP_NAME
from aiinfra.upstream import GPU_OPERATOR, NETWORK_OPERATOR

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ("a800-ib", "h100-ndr", "roce")


@pytest.fixture(scope="module")
def mirrored_sim(sim_cluster: Any, kube: Kube, upstream_mirror: Path) -> Kube:
    """The session cluster, known to serve the current CRDs from the mirror, with the operator namespace."""
    # NicNodePolicy and nv-ipam's IPPool exist only in current releases (not in the v1.4.0 module's CRDs).
    kube.resource("mellanox.com/v1alpha1", "NicNodePolicy")
    kube.resource("nv-ipam.nvidia.com/v1alpha1", "IPPool")
    try:
        kube.core.create_namespace({"metadata": {"name": NETWORK_OPERATOR.namespace}})
    except kube.client.exceptions.ApiException as exc:
        assert exc.status == 409
    return kube


@pytest.mark.parametrize("name", DEFINITIONS)
def test_rendered_objects_pass_server_side_dry_run(mirrored_sim: Kube, name: str) -> None:
    d = load_definition(ROOT / "clusters" / f"{name}.yaml")
    for ns in {o["spec"].get("networkNamespace") for o in operator_bundle(d).objects} - {None}:
        try:
            mirrored_sim.core.create_namespace({"metadata": {"name": ns}})
        except mirrored_sim.client.exceptions.ApiException:
            pass
    for obj in operator_bundle(d).objects:
        mirrored_sim.apply(obj, dry_run=True)


def test_a_wrong_field_is_rejected_by_the_dry_run(mirrored_sim: Kube) -> None:
    from aiinfra.errors import UsageError

    pool = operator_bundle(load_definition(ROOT / "clusters" / "a800-ib.yaml")).objects[1]
    bad = {**pool, "spec": {**pool["spec"], "perNodeBlockSize": "eight"}}
    with pytest.raises(UsageError, match="rejected"):
        mirrored_sim.apply(bad, dry_run=True)


def _helm() -> Helm:
    tools = os.environ.get("AIINFRA_K8S_TOOLS", "")
    if not os.access(Path(tools) / "helm", os.X_OK) and not shutil.which("helm"):
        reason = "helm is not built (make k8s-tools)"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"CI: {reason}", pytrace=False)
        pytest.skip(reason)
    return Helm()


def _stand_in(helm: Helm, tmp: Path, name: str, version: str) -> ChartSource:
    """A tiny packaged chart named like the real one: its values land in a ConfigMap, its crds/ hold one CRD."""
    chart = tmp / name
    (chart / "templates").mkdir(parents=True)
    (chart / "crds").mkdir()
    meta = {"apiVersion": "v2", "name": name, "version": version, "kubeVersion": ">= 1.21.0-0"}
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta))
    (chart / "values.yaml").write_text("{}\n")
    (chart / "templates" / "values.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-values\n"
        "data:\n  values.json: {{ toJson .Values | quote }}\n"
    )
    plural = f"standins{name.replace('-', '')}{uuid.uuid4().hex[:6]}"  # fresh per test: CRDs outlive undeploy
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.test.aiinfra.io"},
        "spec": {
            "group": "test.aiinfra.io",
            "names": {"kind": plural.capitalize(), "plural": plural},
            "scope": "Cluster",
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {"type": "object"}}}
            ],
        },
    }
    (chart / "crds" / "standin.yaml").write_text(yaml.safe_dump(crd))
    subprocess.run([helm.binary, "package", str(chart), "-d", str(tmp)], check=True, capture_output=True)
    return ChartSource(str(tmp / f"{name}-{version}.tgz"), label=f"{name}-{version}")


def test_deploy_dry_run_then_deploy_twice_then_undeploy(mirrored_sim: Kube, tmp_path: Path) -> None:
    helm = _helm()
    d = load_definition(ROOT / "clusters" / "a800-ib.yaml")
    bundle = operator_bundle(d, "1.34.4")
    sources = {c.name: _stand_in(helm, tmp_path, c.name, "0.1.0") for c in (NETWORK_OPERATOR, GPU_OPERATOR)}
    lines: list[str] = []

    checked = deploy(bundle, mirrored_sim, helm, sources, dry_run=True, say=lines.append)
    assert checked.changes == 0 and any("NicClusterPolicy" in line for line in lines)
    assert helm.deployed(NETWORK_OPERATOR.release, NETWORK_OPERATOR.namespace) is None
    assert mirrored_sim.get(NCP_API, "NicClusterPolicy", NCP_NAME) is None

    first = deploy(bundle, mirrored_sim, helm, sources, say=lines.append)
    assert first.changes == 2 + 2 + len(bundle.objects), first.lines  # CRDs, releases, objects
    cm = mirrored_sim.core.read_namespaced_config_map("network-operator-values", NETWORK_OPERATOR.namespace)
    assert yaml.safe_load(cm.data["values.json"])["nfd"] == {"enabled": True, "deployNodeFeatureRules": True}

    again = deploy(bundle, mirrored_sim, helm, sources, say=lines.append)
    assert again.changes == 0, again.lines

    # A changed value upgrades exactly one release.
    peermem = d.model_copy(update={"operators": d.operators.model_copy(update={"registry": "mirror.local"})})
    changed = deploy(operator_bundle(peermem, "1.34.4"), mirrored_sim, helm, sources, say=lines.append)
    assert [line for line in changed.lines if "upgraded" in line or "configured" in line] == [
        f"helm release {NETWORK_OPERATOR.namespace}/network-operator: upgraded",
        f"helm release {GPU_OPERATOR.namespace}/gpu-operator: upgraded",
        "NicClusterPolicy nic-cluster-policy: configured",
    ]

    gone = undeploy(bundle, mirrored_sim, helm, say=lines.append)
    assert gone.changes == 2 + len(bundle.objects)
    assert mirrored_sim.get(NCP_API, "NicClusterPolicy", NCP_NAME) is None
    assert helm.deployed(GPU_OPERATOR.release, GPU_OPERATOR.namespace) is None


def test_wait_until_the_policy_is_ready_and_nodes_advertise_rails(mirrored_sim: Kube) -> None:
    kube = mirrored_sim
    d = load_definition(ROOT / "clusters" / "a800-ib.yaml")
    product = f"TEST-{uuid.uuid4().hex[:8]}"
    selector = f"nvidia.com/gpu.product={product}"
    resources = [r.resource_name for r in d.rails]
    nodes = [f"wait-{product.lower()}-{i}" for i in range(2)]
    for n in nodes:
        kube.core.create_node({"metadata": {"name": n, "labels": {"nvidia.com/gpu.product": product}}})
    kube.apply(operator_bundle(d).objects[0])
    try:
        with pytest.raises(LaunchTimeout, match=r"NicClusterPolicy (absent|notReady), 2 GPU nodes \(wait-"):
            wait_ready(kube, selector, resources, timeout=0.5, on_change=lambda _: None, poll=0.1)
        seen: list[str] = []
        result: dict[str, Any] = {}
        waiter = threading.Thread(
            target=lambda: result.update(r=wait_ready(kube, selector, resources, 60, seen.append, poll=0.2))
        )
        waiter.start()
        kube.custom.patch_cluster_custom_object_status(
            "mellanox.com", "v1alpha1", "nicclusterpolicies", NCP_NAME, {"status": {"state": "ready"}}
        )
        for i, n in enumerate(nodes):
            # The first node gets only rail0 first: the wait must not end before the last rail of the last node.
            have = resources if i == 0 else resources[:1]
            counts = {r: "63" for r in have}
            kube.core.patch_node_status(n, {"status": {"capacity": counts, "allocatable": counts}})
        assert not readiness(kube, selector, resources).ready
        counts = {r: "63" for r in resources}
        kube.core.patch_node_status(nodes[1], {"status": {"capacity": counts, "allocatable": counts}})
        waiter.join(timeout=60)
        assert result["r"].ready and result["r"].nodes == 2
        assert seen[-1] == "NicClusterPolicy ready, 2 GPU nodes"
    finally:
        for n in nodes:
            kube.core.delete_node(n)
        kube.delete(NCP_API, "NicClusterPolicy", NCP_NAME)


def test_cli_deploy_and_undeploy(mirrored_sim: Kube, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`aiinfra net deploy` end to end: the API server's version is checked, charts from --chart, then undeploy."""
    from aiinfra.cli import main

    helm = _helm()
    charts = [
        arg
        for c in (NETWORK_OPERATOR, GPU_OPERATOR)
        for arg in ("--chart", f"{c.name}={_stand_in(helm, tmp_path, c.name, '0.2.0').ref}")
    ]
    cluster = str(ROOT / "clusters" / "h100-ndr.yaml")
    assert main(["net", "deploy", cluster, *charts, "--dry-run"]) == 0
    assert "0 changes (dry run: nothing written)" in capsys.readouterr().err
    assert mirrored_sim.get(NCP_API, "NicClusterPolicy", NCP_NAME) is None
    assert main(["net", "deploy", cluster, *charts, "--no-wait"]) == 0
    assert mirrored_sim.get(NCP_API, "NicClusterPolicy", NCP_NAME) is not None
    assert main(["net", "undeploy", cluster]) == 0
    assert mirrored_sim.get(NCP_API, "NicClusterPolicy", NCP_NAME) is None
    assert main(["net", "deploy", cluster, "--nodes", "500", "--dry-run"]) == 2
    assert "rails[0].pod_subnet" in capsys.readouterr().err
