"""The package as a user installs it: a built wheel (not editable) in a fresh virtualenv, run from
a directory outside the repository. It must not read anything from the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A virtualenv holding aiinfra's wheel; its dependencies come from this interpreter's site-packages."""
    home = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(home / "venv")], check=True)
    py = home / "venv" / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", str(ROOT)],
        check=True, cwd=home, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )  # fmt: skip
    yield home / "venv" / "bin"


def outside_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without PYTHONPATH: a checkout on it would shadow the installed wheel."""
    return {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, **(extra or {})}


def run(bindir: Path, *args: str, env: dict[str, str] | None = None, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bindir / "aiinfra"), *args], cwd=cwd, capture_output=True, text=True, env=outside_env(env), timeout=300,
    )  # fmt: skip


def python(bindir: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bindir / "python"), "-c", code], cwd=cwd, capture_output=True, text=True,
                          env=outside_env(), timeout=300)  # fmt: skip


def test_the_installed_package_is_the_wheel(venv: Path, tmp_path: Path) -> None:
    out = python(venv, "import aiinfra; print(aiinfra.__file__)", tmp_path)
    assert "site-packages" in out.stdout and str(ROOT) not in out.stdout, out.stderr
    gomod = python(venv, "from aiinfra.sim.tools import pinned_modules as p; print(p())", tmp_path)
    assert "github.com/ray-project/kuberay/ray-operator" in gomod.stdout


def test_launch_default_definition_ships_with_the_wheel(venv: Path, tmp_path: Path) -> None:
    # launch()'s default must resolve from any directory, read from the installed package.
    code = ("import inspect, aiinfra; default = inspect.signature(aiinfra.launch).parameters['cluster'].default; "
            "d = aiinfra.load_definition(default); print(default); print(d.name, d.backend)")
    out = python(venv, code, tmp_path)
    assert out.returncode == 0, out.stderr
    path, loaded = out.stdout.splitlines()
    assert "site-packages" in path and str(ROOT) not in path
    assert loaded == "local local"
    validated = run(venv, "validate", path, cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr


def test_validate_and_render_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    definition = tmp_path / "a800-ib.yaml"
    definition.write_text((ROOT / "clusters" / "a800-ib.yaml").read_text())
    ok = run(venv, "validate", str(definition), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    rendered = run(venv, "render", str(definition), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    assert "kind: RayCluster" in (tmp_path / "out" / "raycluster-a800-ib.yaml").read_text()


def test_sim_up_without_tools_names_the_fix(venv: Path, tmp_path: Path) -> None:
    definition = ROOT / "clusters" / "a800-ib.yaml"
    env = {"AIINFRA_K8S_TOOLS": str(tmp_path / "no-tools"), "AIINFRA_SIM_STATE": str(tmp_path / "state")}
    r = run(venv, "sim", "up", str(definition), "--nodes", "1", env=env, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "not built" in r.stderr and "AIINFRA_K8S_TOOLS" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.k8s
def test_sim_up_and_down_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    tools = os.environ.get("AIINFRA_K8S_TOOLS") or str(ROOT / ".cache" / "k8s-tools" / "bin")
    env = {"AIINFRA_K8S_TOOLS": tools, "AIINFRA_SIM_STATE": str(tmp_path / "state")}
    up = run(venv, "sim", "up", str(ROOT / "clusters" / "a800-ib.yaml"), "--nodes", "1", env=env, cwd=tmp_path)
    try:
        assert up.returncode == 0, up.stderr[-2000:]
    finally:
        down = run(venv, "sim", "down", env=env, cwd=tmp_path)
    assert down.returncode == 0, down.stderr[-2000:]
