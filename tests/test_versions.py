"""Supported Ray range and version coherence: definition, image and client."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aiinfra.definition.loader import load_definition
from aiinfra.definition.versions import (
    SUPPORTED_RAY,
    client_mismatch,
    definition_problems,
    image_ray_version,
    supported,
)
from aiinfra.errors import AiinfraError
from aiinfra.k8s.raycluster import LaunchOptions, raycluster

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
