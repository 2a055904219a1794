"""The NVIDIA operators' objects and values rendered from each definition: goldens, refusals, upstream checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiinfra.cli import main
from aiinfra.definition import load_definition
from aiinfra.definition.model import ClusterDefinition, GpuDirect
from aiinfra.errors import DefinitionError, UsageError
from aiinfra.k8s.raycluster import LaunchOptions, raycluster
from aiinfra.net.gpu_operator import IMAGE_COMPONENTS, PULL_SECRET_COMPONENTS, gpu_operator_values
from aiinfra.net.operator_bundle import bundle_yaml, check_kubernetes, operator_bundle
from aiinfra.net.operators import network_operator_values
from aiinfra.upstream import (
    CHARTS,
    GPU_OPERATOR,
    KUBE_PROMETHEUS_STACK,
    NETWORK_OPERATOR,
    PROMETHEUS_OPERATOR_CRDS,
    kube_minor,
)

ROOT = Path(__file__).resolve().parent.parent
WITH_RAILS = sorted(p.stem for p in (ROOT / "clusters").glob("*.yaml") if load_definition(p).rails)


def _with(d: ClusterDefinition, **ops: Any) -> ClusterDefinition:
    return d.model_copy(update={"operators": d.operators.model_copy(update=ops)})


@pytest.mark.parametrize("name", WITH_RAILS)
def test_golden(name: str, golden) -> None:
    d = load_definition(ROOT / "clusters" / f"{name}.yaml")
    golden(f"net-operator/{name}.yaml", bundle_yaml(operator_bundle(d)))


def test_golden_air_gapped(golden, capsys) -> None:
    """Registry mirror, pull secret and the DOCA driver container, through the CLI flags."""
    rc = main(
        ["net", "render-operators", "clusters/a800-ib.yaml", "--registry", "mirror.local:5000",
         "--pull-secret", "regcred", "--driver", "container", "--kube-version", "1.34.2"]
    )  # fmt: skip
    assert rc == 0
    golden("net-operator/a800-ib-air-gapped.yaml", capsys.readouterr().out)


def _all_images(values: Any) -> list[str]:
    found = []
    if isinstance(values, dict):
        for key, v in values.items():
            if key == "repository" or (isinstance(v, str) and re.match(r"^[a-z0-9.-]+(:\d+)?/", v)):
                found.append(v)
            found += _all_images(v)
    return found


def test_registry_reaches_every_image() -> None:
    d = _with(load_definition(ROOT / "clusters" / "roce.yaml"), registry="mirror.local:5000")
    b = operator_bundle(d)
    images = _all_images(b.releases[0].values) + _all_images(b.releases[1].values)
    images.append(b.objects[0]["spec"]["global"]["repository"])
    assert images and all(i.startswith("mirror.local:5000/") for i in images), images


@pytest.mark.parametrize("name", WITH_RAILS)
def test_network_names_match_the_raycluster_annotation(name: str) -> None:
    d = load_definition(ROOT / "clusters" / f"{name}.yaml")
    rc = raycluster(d, LaunchOptions(name="x"))
    worker = rc["spec"]["workerGroupSpecs"][0]["template"]
    wanted = worker["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"].split(",")
    kinds = {"IPoIBNetwork", "MacvlanNetwork", "HostDeviceNetwork", "SriovIBNetwork", "SriovNetwork"}
    made = [
        f"{o['spec']['networkNamespace']}/{o['metadata']['name']}"
        for o in operator_bundle(d).objects
        if o["kind"] in kinds
    ]
    pod_ns = rc["metadata"]["namespace"]
    assert made == [w if "/" in w else f"{pod_ns}/{w}" for w in wanted]


def test_one_resource_per_rail_named_as_the_rail() -> None:
    import json

    d = load_definition(ROOT / "clusters" / "h100-ndr.yaml")
    ncp = operator_bundle(d).objects[0]
    config = json.loads(ncp["spec"]["rdmaSharedDevicePlugin"]["config"])["configList"]
    assert [f"{c['resourcePrefix']}/{c['resourceName']}" for c in config] == [r.resource_name for r in d.rails]
    assert all(c["selectors"]["linkTypes"] == ["infiniband"] for c in config)


def test_pool_too_small_is_refused_with_its_line() -> None:
    d = _with(load_definition(ROOT / "clusters" / "a800-ib.yaml"), nodes=32)
    with pytest.raises(DefinitionError) as err:
        operator_bundle(d)
    assert "clusters/a800-ib.yaml:18: rails[0].pod_subnet: 10.110.0.0/24 holds 31 blocks" in str(err.value)
    assert len(err.value.problems) == 4


def test_missing_netdev_and_pci_are_refused() -> None:
    d = load_definition(ROOT / "clusters" / "roce.yaml")
    rails = [r.model_copy(update={"pci": None}) for r in d.rails]
    with pytest.raises(DefinitionError, match=r"rails\[0\]\.pci: an SR-IOV rail needs the PCI address"):
        operator_bundle(d.model_copy(update={"rails": rails}))


@pytest.mark.parametrize(("version", "ok"), [("1.31.9", False), ("v1.32.0", True), ("1.35.6", True), ("1.36.2", False)])
def test_kubernetes_range(version: str, ok: bool) -> None:
    if ok:
        check_kubernetes(version)
    else:
        with pytest.raises(UsageError, match="outside"):
            check_kubernetes(version)


def test_gpudirect_modes() -> None:
    d = load_definition(ROOT / "clusters" / "h100-ndr.yaml")
    dmabuf = gpu_operator_values(d)
    assert dmabuf["driver"]["kernelModuleType"] == "open" and dmabuf["driver"]["rdma"]["enabled"] is False
    peer = gpu_operator_values(
        d.model_copy(update={"network": d.network.model_copy(update={"gpudirect": GpuDirect.PEERMEM})})
    )
    assert peer["driver"]["rdma"] == {"enabled": True, "useHostMofed": True}
    # One NFD: the network operator's.
    assert dmabuf["nfd"]["enabled"] is False and network_operator_values(d)["nfd"]["enabled"] is True


# --- against the upstream mirror ($AIINFRA_UPSTREAM_MIRROR) ---


def chart_defaults(chart_dir: Path) -> dict[str, Any]:
    """A chart's default values with each bundled sub-chart's defaults under its name, as helm merges them."""
    values = yaml.safe_load((chart_dir / "values.yaml").read_text()) or {}
    for sub in sorted((chart_dir / "charts").glob("*/Chart.yaml")):
        name = yaml.safe_load(sub.read_text())["name"]
        sub_values = yaml.safe_load((sub.parent / "values.yaml").read_text()) or {}
        values[name] = {**sub_values, **(values.get(name) or {})}
    return values


def unknown_keys(ours: Any, defaults: Any, path: str = "") -> list[str]:
    """Paths in ``ours`` that the chart's defaults do not have (a free-form {} default accepts anything)."""
    if not isinstance(ours, dict):
        return []
    if not isinstance(defaults, dict):
        return [path or "."]
    out = []
    for key, value in ours.items():
        where = f"{path}.{key}" if path else key
        if key not in defaults:
            out.append(where)
        elif defaults[key]:
            out += unknown_keys(value, defaults[key], where)
    return out


def test_unknown_keys_are_found() -> None:
    assert unknown_keys({"nfd": {"enabeld": True}}, {"nfd": {"enabled": True}}) == ["nfd.enabeld"]


@pytest.mark.parametrize("name", WITH_RAILS)
def test_values_keys_exist_in_the_charts(name: str, upstream_mirror: Path) -> None:
    d = _with(load_definition(ROOT / "clusters" / f"{name}.yaml"), registry="m.local", image_pull_secrets=["s"])
    for release in operator_bundle(d).releases:
        defaults = chart_defaults(upstream_mirror / release.chart.mirror_dir)
        unknown = unknown_keys(release.values, defaults)
        if release.chart.name == "gpu-operator":
            # The chart documents dcgmExporter.config (name, create, data) only as a commented example.
            text = (upstream_mirror / release.chart.mirror_dir / "values.yaml").read_text()
            assert all(f"# {key}:" in text for key in ("config", "name", "create", "data"))
            unknown.remove("dcgmExporter.config")
        assert unknown == [], release.chart.name


def test_pins_match_the_mirror(upstream_mirror: Path) -> None:
    for chart in CHARTS:
        meta = yaml.safe_load((upstream_mirror / chart.mirror_dir / "Chart.yaml").read_text())
        assert meta["name"] == chart.name
        assert meta["kubeVersion"] == chart.kube_version
        # Our validated range lies inside what the chart itself accepts.
        low = re.match(r"^>=\s*(\d+)\.(\d+)", meta["kubeVersion"])
        assert low, meta["kubeVersion"]
        assert (int(low.group(1)), int(low.group(2))) <= kube_minor(chart.supported_kube[0])
    # The gpu-operator chart at the tag says v1.0.0-devel (NVIDIA stamps the version when packaging).
    assert (
        yaml.safe_load((upstream_mirror / NETWORK_OPERATOR.mirror_dir / "Chart.yaml").read_text())["version"]
        == "26.4.1"
    )
    kps = yaml.safe_load((upstream_mirror / KUBE_PROMETHEUS_STACK.mirror_dir / "Chart.yaml").read_text())
    assert kps["version"] == KUBE_PROMETHEUS_STACK.version and kps["appVersion"] == PROMETHEUS_OPERATOR_CRDS.version
    values = yaml.safe_load((upstream_mirror / NETWORK_OPERATOR.mirror_dir / "values.yaml").read_text())
    assert values["node-feature-discovery"]["image"]["tag"] == f"network-operator-v{NETWORK_OPERATOR.version}"


def test_gpu_operator_image_list_is_complete(upstream_mirror: Path) -> None:
    values = yaml.safe_load((upstream_mirror / GPU_OPERATOR.mirror_dir / "values.yaml").read_text())

    def walk(node: Any, path: str = "") -> dict[str, Any]:
        out = {}
        if isinstance(node, dict):
            for key, value in node.items():
                where = f"{path}.{key}" if path else key
                if key == "repository" and value:
                    out[path] = value
                if key == "imagePullSecrets":
                    out[f"{path}#secrets"] = True
                out.update(walk(value, where))
        return out

    found = walk(values)
    assert {k: v for k, v in found.items() if "#" not in k} == IMAGE_COMPONENTS
    assert sorted(k.split("#")[0] for k in found if k.endswith("#secrets")) == sorted(PULL_SECRET_COMPONENTS)


def test_cli_driver_choices_match_the_model() -> None:
    from aiinfra.cli.net.operators import _DRIVERS
    from aiinfra.definition.operators import NicDriver

    assert tuple(m.value for m in NicDriver) == _DRIVERS
