"""Supported Ray range and version coherence: definition, image and client."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from aiinfra.definition.loader import load_definition
from aiinfra.definition.versions import (
    SUPPORTED_RAY,
    TESTED_RAY,
    client_mismatch,
    definition_problems,
    image_ray_version,
    parse,
    runtime_mismatch,
    supported,
)
from aiinfra.errors import AiinfraError, UsageError
from aiinfra.k8s.raycluster import LaunchOptions, raycluster
from aiinfra.worker_versions import runtime_versions

ROOT = Path(__file__).resolve().parent.parent


def test_every_definition_is_coherent_and_supported() -> None:
    for path in sorted((ROOT / "clusters").glob("*.yaml")):
        ray = load_definition(path).ray
        if ray is not None:
            assert supported(ray.version) and image_ray_version(ray.image) == ray.version, path


@pytest.mark.parametrize(
    ("version", "image", "auth", "expect"),
    [
        ("2.52.1", "rayproject/ray:2.52.1-py311-gpu", "token", []),
        ("2.60.0", "rayproject/ray:2.60.0-py311-cu128", "token", []),
        ("2.52.1", "rayproject/ray:2.60.0-py311-gpu", "none", ["ray.image runs Ray 2.60.0"]),
        ("2.50.0", "rayproject/ray:2.50.0", "none", ["outside the supported range"]),
        ("2.50.0", "rayproject/ray:2.50.0", "token", ["outside the supported range", "ray.auth: token needs"]),
        ("2.52.1", "registry.local/team/ray:latest", "token", []),  # no version in the tag: nothing to compare
    ],
)
def test_definition_problems(version: str, image: str, auth: str, expect: list[str]) -> None:
    found = definition_problems(version, image, auth)
    assert len(found) == len(expect) and all(e in f for e, f in zip(expect, found, strict=True)), found


def test_loader_refuses_an_image_that_is_not_the_declared_ray(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "clusters" / "a800-ib.yaml").read_text())
    data["ray"]["image"] = "rayproject/ray:2.60.0-py311-gpu"
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(AiinfraError, match=r"ray.image runs Ray 2.60.0 but ray.version says 2.52.1"):
        load_definition(path)


def test_client_mismatch_levels() -> None:
    assert client_mismatch("2.52.1", "2.52.0") is None
    level, why = client_mismatch("2.60.0", "2.52.1") or ("", "")
    assert level == "warning" and "ray://" in why
    assert (client_mismatch("3.0.0", "2.60.0") or ("",))[0] == "error"
    assert SUPPORTED_RAY[0] <= "2.52.1"


def test_auth_mode_is_always_explicit_in_the_pods(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "clusters" / "a800-ib.yaml").read_text())
    for auth, mode in (("token", "token"), ("none", "disabled")):
        data["ray"]["auth"] = auth
        path = tmp_path / f"{auth}.yaml"
        path.write_text(yaml.safe_dump(data))
        rc = raycluster(load_definition(path), LaunchOptions(name="v"))
        for spec in (rc["spec"]["headGroupSpec"], rc["spec"]["workerGroupSpecs"][0]):
            env = {e["name"]: e.get("value") for e in spec["template"]["spec"]["containers"][0]["env"]}
            assert env["RAY_AUTH_MODE"] == mode
            assert ("RAY_AUTH_TOKEN" in env) is (auth == "token")


def test_local_clusters_set_the_auth_mode_explicitly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiinfra.launch.local import LocalRayBackend

    monkeypatch.setenv("AIINFRA_HOME", str(tmp_path))
    backend = LocalRayBackend(load_definition(ROOT / "clusters" / "local.yaml"), "auth", workers=1)
    assert backend.ray_auth_env() == {"RAY_AUTH_MODE": "disabled"}  # a cluster started before tokens
    backend._new_token()
    env = backend.ray_auth_env()
    assert env["RAY_AUTH_MODE"] == "token" and len(env["RAY_AUTH_TOKEN"]) >= 32
    assert (backend.state_dir / "auth_token").stat().st_mode & 0o077 == 0, "the token file is private"
    assert backend._headers() == {"Authorization": f"Bearer {env['RAY_AUTH_TOKEN']}"}


@pytest.mark.parametrize(
    ("workers", "expect"),
    [
        ({"w0": {"torch": "2.5.1", "nccl": "2.21.5"}, "w1": {"torch": "2.5.1", "nccl": "2.21.5"}}, []),
        ({"w0": {"torch": "2.5.1", "nccl": "2.21.5"}, "w1": {"torch": "2.5.1"}}, []),  # a CPU worker has no NCCL
        ({"w0": {"python": "3.11.7"}, "w1": {"python": "3.11.9"}}, []),  # patch releases pickle alike
        ({"w0": {"python": "3.11.7"}, "w1": {"python": "3.12.1"}}, ["Python: 3.11 on w0; 3.12 on w1"]),
        ({"w0": {"ray": "2.60.0"}, "w1": {"ray": "2.52.1"}}, ["Ray: 2.52.1 on w1; 2.60.0 on w0"]),
        (
            {"w0": {"torch": "2.5.1+cu124"}, "w1": {"torch": "2.5.1+cu121"}, "w2": {"torch": "2.5.1+cu124"}},
            ["torch: 2.5.1+cu121 on w1; 2.5.1+cu124 on w0, w2"],
        ),
        (
            {"w0": {"torch": "2.5.1", "nccl": "2.21.5"}, "w1": {"torch": "2.6.0", "nccl": "2.26.2"}},
            ["torch: 2.5.1 on w0; 2.6.0 on w1", "NCCL: 2.21.5 on w0; 2.26.2 on w1"],
        ),
    ],
)
def test_runtime_mismatch_names_each_version_and_its_workers(workers: dict, expect: list[str]) -> None:
    found = runtime_mismatch(workers)
    if not expect:
        assert found is None
        return
    assert found is not None and found.endswith("build every worker from the same image")
    assert found.count("workers run different") == len(expect) and all(e in found for e in expect), found


def test_bench_refuses_workers_of_another_torch_before_any_group_starts() -> None:
    from aiinfra.bench.runner import check_worker_versions

    here = {"host": "n1", "node_id": "a", "versions": runtime_versions()}
    check_worker_versions([here, {**here, "host": "n2"}])  # the same versions: nothing to say
    other = {**here, "host": "n2", "versions": {**here["versions"], "torch": "1.13.1", "nccl": "2.14.3"}}
    with pytest.raises(AiinfraError, match=r"workers run different torch: .*1\.13\.1 on worker 1 \(n2\)"):
        check_worker_versions([here, other])


@pytest.mark.parametrize(
    ("client", "cluster", "outcome"),
    [
        ("2.60.0", "2.60.0", None),
        ("2.60.0", "2.52.1", "warning"),
        ("2.60.0", "1.13.0", "error"),
        ("2.60.0", None, None),
    ],
)
def test_client_ray_against_the_served_one(
    client: str, cluster: str | None, outcome: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.metadata

    from aiinfra.launch import ray_state

    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: client if name == "ray" else real(name))
    if outcome == "error":
        with pytest.raises(UsageError, match=r"cluster 'x': this machine runs Ray 2.60.0, the cluster Ray 1.13.0"):
            ray_state.check_client_ray(cluster, "cluster 'x'")
        return
    warning = ray_state.check_client_ray(cluster, "cluster 'x'")
    assert (warning is not None) is (outcome == "warning"), warning
    if warning:
        assert "job submission works across minor versions" in warning


def test_tested_ray_is_what_ci_installs() -> None:
    """TESTED_RAY is a fact: the main environment's constraint and `make test-ray-current`'s Ray."""
    oldest = re.search(r"^ray==(\S+)$", (ROOT / "tests" / "constraints" / "ray-oldest.txt").read_text(), re.M)
    newest = re.search(r"^RAY_CURRENT \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert oldest and newest and (oldest.group(1), newest.group(1)) == TESTED_RAY
    assert all(supported(v) for v in TESTED_RAY)
    deps = (ROOT / "pyproject.toml").read_text()
    ranges = re.findall(r'"ray\[\w+\]>=([\d.]+),<([\d.]+)"', deps)
    assert ranges and all(lo == TESTED_RAY[0] and parse(hi) <= parse(SUPPORTED_RAY[1]) for lo, hi in ranges), ranges
    assert "test-ray-current" in (ROOT / "Makefile").read_text().split("\ntest:")[1].split("\n\n")[0]


def test_this_run_has_the_ray_it_was_meant_to() -> None:
    """`make test-ray-current` sets AIINFRA_EXPECT_RAY: a venv that fell back to the main Ray fails here."""
    import ray

    expected = os.environ.get("AIINFRA_EXPECT_RAY")
    assert ray.__version__ == expected if expected else supported(ray.__version__), ray.__version__


@pytest.mark.torch  # the [train] extra; CI installs it
def test_runtime_versions_asks_cuda_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch caches the GPU count at the first ask; the bench and Ray Train widen CUDA_VISIBLE_DEVICES later.

    On a 2x H200 node a count cached here (one GPU, Ray's assignment) made the shared-GPU bench fail in
    ``set_device(1)``. Reading versions must leave CUDA alone.
    """
    import torch

    def asked(*_: object, **__: object) -> None:
        raise AssertionError("runtime_versions asked CUDA for its devices")

    for name in ("is_available", "device_count", "_lazy_init", "get_device_properties"):
        monkeypatch.setattr(torch.cuda, name, asked)
    found = runtime_versions()
    assert found["torch"] == str(torch.__version__)
    if torch.version.cuda:
        assert found["nccl"] == ".".join(str(v) for v in torch.cuda.nccl.version())
