"""The worker's start command exports the node-refined NCCL environment before KubeRay's ``ray start``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aiinfra.definition.loader import load_definition
from aiinfra.definition.model import ClusterDefinition
from aiinfra.k8s.raycluster import LaunchOptions, node_env_notice, raycluster
from aiinfra.sim.node_tree import write_node_tree

ROOT = Path(__file__).resolve().parent.parent
PRINT_NCCL = "env | grep -E '^NCCL_' | sort"


def roce(image_has_aiinfra: bool = True) -> ClusterDefinition:
    d = load_definition(ROOT / "clusters" / "roce.yaml")
    assert d.ray is not None
    return d.model_copy(update={"ray": d.ray.model_copy(update={"image_has_aiinfra": image_has_aiinfra})})


def worker_args(d: ClusterDefinition) -> str:
    rc = raycluster(d, LaunchOptions(name="t"))
    (arg,) = rc["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["args"]
    return str(arg)


def start(args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command as KubeRay runs it: the container args, '&&', then (here, standing in) ``ray start``."""
    cmd = f"{args} && {PRINT_NCCL}"
    return subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_exports_the_node_env_to_what_ray_start_runs(tmp_path: Path) -> None:
    d = roce()
    tree = write_node_tree(d, 0, tmp_path)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # `python -m aiinfra nccl env` reads this node's tree (in a pod: the real /sys and /proc).
    wrapper = bindir / "python"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} "$@" --sysfs-root {tree}\n')
    wrapper.chmod(0o755)
    rc = raycluster(d, LaunchOptions(name="t"))
    pod_env = {e["name"]: e["value"] for e in rc["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
               ["env"] if "value" in e}  # fmt: skip
    env = {**pod_env, "PATH": f"{bindir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    done = start(worker_args(d), env)
    assert done.returncode == 0, done.stderr
    seen = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert "NCCL_IB_GID_INDEX" not in pod_env  # gid_index auto: only the node can tell
    assert seen["NCCL_IB_GID_INDEX"] == "3"
    assert seen["NCCL_IB_HCA"] == "=mlx5_0:1,mlx5_1:1,mlx5_2:1,mlx5_3:1"
    assert seen["NCCL_IB_TC"] == "106"
    assert "NCCL_IB_ROCE_VERSION_NUM" in pod_env and "NCCL_IB_ROCE_VERSION_NUM" not in seen  # pinned index wins
    assert "not exported" not in done.stderr


def test_image_without_aiinfra_still_starts_ray(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").write_text("#!/bin/sh\necho 'No module named aiinfra' >&2; exit 1\n")
    (bindir / "python").chmod(0o755)
    done = start(worker_args(roce()), {"PATH": f"{bindir}:/usr/bin:/bin", "NCCL_DEBUG": "WARN"})
    assert done.returncode == 0
    assert "NCCL_DEBUG=WARN" in done.stdout  # the declared environment is kept, and `ray start` runs
    assert "node NCCL environment not exported" in done.stderr


def test_declared_without_aiinfra_renders_no_export_and_launch_says_so() -> None:
    assert "aiinfra nccl env" in worker_args(roce())
    assert "aiinfra nccl env" not in worker_args(roce(image_has_aiinfra=False))
    assert node_env_notice(roce()) is None
    notice = node_env_notice(roce(image_has_aiinfra=False))
    assert notice is not None and "NCCL_IB_GID_INDEX" in notice and "ray.image_has_aiinfra: true" in notice


@pytest.mark.parametrize("cluster", ["a800-ib", "h100-ndr"])
def test_infiniband_notice_names_no_gid_index(cluster: str) -> None:
    d = load_definition(ROOT / "clusters" / f"{cluster}.yaml")
    assert d.ray is not None
    d = d.model_copy(update={"ray": d.ray.model_copy(update={"image_has_aiinfra": False})})
    notice = node_env_notice(d)
    assert notice is not None and "GID" not in notice and "NCCL_IB_HCA" in notice
