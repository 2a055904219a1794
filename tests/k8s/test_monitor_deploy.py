"""The rendered exporter objects pass a server-side dry run on the simulated cluster.

The ServiceMonitor is checked against the current prometheus-operator CRD from the upstream
mirror (AIINFRA_UPSTREAM_MIRROR), applied to the apiserver here; without the mirror the test
uses the CRD the simulator installs from its pinned module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from aiinfra.definition.loader import load_definition
from aiinfra.errors import AiinfraError
from aiinfra.monitor.exporter_deploy import render_exporter

ROOT = Path(__file__).resolve().parents[2]
MIRROR_CRD = "kube-prometheus-stack-88.5.3/charts/kube-prometheus-stack/charts/crds/crds/crd-servicemonitors.yaml"


def _install_mirror_crd(kube) -> None:
    mirror = os.environ.get("AIINFRA_UPSTREAM_MIRROR")
    if not mirror:
        return
    crd = yaml.safe_load((Path(mirror) / MIRROR_CRD).read_text())
    kube.apply(crd)
    ext = kube.client.ApiextensionsV1Api(kube.api)
    version = crd["metadata"].get("annotations", {}).get("operator.prometheus.io/version")
    served = ext.read_custom_resource_definition(crd["metadata"]["name"]).metadata.annotations or {}
    assert served.get("operator.prometheus.io/version") == version


def test_exporter_objects_pass_server_side_dry_run(kube, namespace) -> None:
    _install_mirror_crd(kube)
    d = load_definition(ROOT / "clusters" / "a800-ib.yaml")
    for obj in render_exporter(d, namespace=namespace):
        served = kube.apply(obj, dry_run=True)
        assert served["kind"] == obj["kind"]
    bad = render_exporter(d, namespace=namespace)[3]
    bad["spec"]["endpoints"][0]["interval"] = "fifteen seconds"  # the CRD's pattern rejects it
    with pytest.raises(AiinfraError):
        kube.apply(bad, dry_run=True)


def _stand_in_stack(helm_binary: str, mirror: Path, tmp: Path) -> Path:
    """A packaged chart named kube-prometheus-stack (the real one cannot be fetched here): its values land in a
    ConfigMap, its crds/ are the current prometheus-operator CRDs aiinfra's objects need, from the mirror."""
    chart = tmp / "kube-prometheus-stack"
    (chart / "templates").mkdir(parents=True)
    (chart / "crds").mkdir()
    meta = {"apiVersion": "v2", "name": "kube-prometheus-stack", "version": "88.5.3", "kubeVersion": ">=1.25.0-0"}
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta))
    (chart / "values.yaml").write_text("{}\n")
    (chart / "templates" / "values.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-values\n"
        "data:\n  values.json: {{ toJson .Values | quote }}\n"
    )
    crds = Path(mirror) / Path(MIRROR_CRD).parent
    for kind in ("servicemonitors", "podmonitors", "prometheusrules"):
        (chart / "crds" / f"crd-{kind}.yaml").write_text((crds / f"crd-{kind}.yaml").read_text())
    subprocess.run([helm_binary, "package", str(chart), "-d", str(tmp)], check=True, capture_output=True)
    return tmp / "kube-prometheus-stack-88.5.3.tgz"


def test_cli_monitor_deploy_dry_run_then_deploy(kube, namespace, upstream_mirror: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`aiinfra monitor deploy`: the chart's CRDs, the release with the rendered values, then the exporter's and the
    monitoring objects, through the network setup's deploy path; a dry run first changes nothing."""
    from aiinfra.cli import main
    from aiinfra.net.helm import Helm

    helm = Helm()
    if not Path(helm.binary).exists() and not shutil.which(helm.binary):
        pytest.skip("helm is not built (make k8s-tools)")
    chart = _stand_in_stack(helm.binary, upstream_mirror, tmp_path)
    cluster = str(ROOT / "clusters" / "a800-ib.yaml")
    args = ["monitor", "deploy", cluster, "--namespace", namespace, "--release", "stack", "--chart", str(chart)]
    assert main([*args, "--dry-run"]) == 0
    assert kube.get("apps/v1", "DaemonSet", "aiinfra-exporter", namespace) is None
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "helm release" in out
    assert kube.get("apps/v1", "DaemonSet", "aiinfra-exporter", namespace) is not None
    assert kube.get("monitoring.coreos.com/v1", "PrometheusRule", "aiinfra-a800-ib", namespace) is not None
    values = kube.core.read_namespaced_config_map("stack-values", namespace).data["values.json"]
    assert "--collector.infiniband" in values  # node_exporter's collectors reached the release
    assert main([*args[:-2], "--chart", str(tmp_path / "missing.tgz")]) == 2
