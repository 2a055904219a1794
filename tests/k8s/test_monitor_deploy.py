"""The rendered exporter objects pass a server-side dry run on the simulated cluster.

The ServiceMonitor is checked against the current prometheus-operator CRD from the upstream
mirror (AIINFRA_UPSTREAM_MIRROR), applied to the apiserver here; without the mirror the test
uses the CRD the simulator installs from its pinned module.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from aiinfra.definition.loader import load_definition
from aiinfra.errors import AiinfraError
from aiinfra.monitor.exporter_deploy import dcgm_counters_configmap, render_exporter

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
    for obj in [*render_exporter(d, namespace=namespace), dcgm_counters_configmap(namespace)]:
        served = kube.apply(obj, dry_run=True)
        assert served["kind"] == obj["kind"]
    bad = render_exporter(d, namespace=namespace)[3]
    bad["spec"]["endpoints"][0]["interval"] = "fifteen seconds"  # the CRD's pattern rejects it
    with pytest.raises(AiinfraError):
        kube.apply(bad, dry_run=True)
