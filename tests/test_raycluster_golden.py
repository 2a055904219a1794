"""Every cluster definition renders to its committed RayCluster (tests/golden/raycluster/)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from aiinfra.definition.loader import load_definition
from aiinfra.definition.schema import definition_reference, definition_schema_text
from aiinfra.k8s.raycluster import LaunchOptions, raycluster, to_yaml

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES = sorted(p for p in (ROOT / "clusters").glob("*.yaml") if load_definition(p).backend == "kubernetes")


@pytest.mark.parametrize("path", KUBERNETES, ids=lambda p: p.stem)
def test_raycluster_golden(path: Path, golden: Callable[[str, str], None]) -> None:
    d = load_definition(path)
    golden(f"raycluster/{path.stem}.yaml", to_yaml(raycluster(d, LaunchOptions(name=d.name))))


def test_keep_within_golden(golden: Callable[[str, str], None]) -> None:
    d = load_definition(ROOT / "clusters" / "a800-ib.yaml")
    opts = LaunchOptions(name="train", workers=4, keep_within="network.topology.nvidia.com/leaf")
    golden("raycluster/a800-ib-keep-leaf.yaml", to_yaml(raycluster(d, opts)))


def test_worker_pod_carries_fabric_settings() -> None:
    rc = raycluster(load_definition(ROOT / "clusters" / "roce.yaml"), LaunchOptions(name="r", workers=3))
    group = rc["spec"]["workerGroupSpecs"][0]
    pod = group["template"]
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert group["replicas"] == 3
    assert pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"] == "roce0,roce1,roce2,roce3"
    assert container["resources"]["limits"]["nvidia.com/sriov_roce2"] == "1"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "8"
    assert env["NCCL_IB_HCA"] == "=mlx5_0:1,mlx5_1:1,mlx5_2:1,mlx5_3:1"
    assert env["NCCL_IB_ROCE_VERSION_NUM"] == "2" and "NCCL_IB_GID_INDEX" not in env
    assert env["NCCL_IB_TC"] == "106"
    assert "IPC_LOCK" in container["securityContext"]["capabilities"]["add"]
    assert pod["spec"]["volumes"][0]["emptyDir"] == {"medium": "Memory", "sizeLimit": "256Gi"}
    head = rc["spec"]["headGroupSpec"]
    assert head["rayStartParams"]["num-gpus"] == "0"
    assert "nvidia.com/gpu" not in head["template"]["spec"]["containers"][0]["resources"]["limits"]


def test_token_never_in_the_object() -> None:
    rc = raycluster(load_definition(ROOT / "clusters" / "h100-ndr.yaml"), LaunchOptions(name="t"))
    env = rc["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["env"]
    token = next(e for e in env if e["name"] == "RAY_AUTH_TOKEN")
    ref = {"secretKeyRef": {"name": "t-ray-token", "key": "auth_token"}}
    assert token == {"name": "RAY_AUTH_TOKEN", "valueFrom": ref}


def test_schema_is_fresh(golden: Callable[[str, str], None]) -> None:
    path = ROOT / "docs" / "cluster-definition.schema.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(definition_schema_text(), encoding="utf-8")
    assert path.read_text(encoding="utf-8") == definition_schema_text(), "run `make golden`"


@pytest.mark.parametrize("doc", ["docs/ray-cluster.md", "docs/zh/ray-cluster.md"])
def test_field_reference_in_docs_is_fresh(doc: str) -> None:
    path = ROOT / doc
    text = path.read_text(encoding="utf-8")
    begin, end = "<!-- fields:begin -->\n", "<!-- fields:end -->"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    fresh = head + begin + definition_reference() + end + tail
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(fresh, encoding="utf-8")
        return
    assert text == fresh, f"{doc}: field reference is stale; run `make golden`"


@pytest.mark.parametrize("path", KUBERNETES, ids=lambda p: p.stem)
def test_the_definition_the_pods_carry_loads_back(path: Path) -> None:
    """In-pod code (node env, training) reads AIINFRA_DEFINITION: it must load as the same definition."""
    from aiinfra.contract import DEFINITION_ENV
    from aiinfra.definition.model import definition_from_env

    d = load_definition(path)
    rc = raycluster(d, LaunchOptions(name=d.name))
    for pod in [rc["spec"]["headGroupSpec"]["template"], rc["spec"]["workerGroupSpecs"][0]["template"]]:
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        carried = definition_from_env({DEFINITION_ENV: env[DEFINITION_ENV]})
        assert carried is not None
        assert carried.model_dump(exclude={"source"}) == d.model_dump(exclude={"source"})
