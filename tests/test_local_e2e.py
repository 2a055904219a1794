"""The embedded default end to end: launch a local multi-node Ray cluster,
submit the DDP example as a Ray job, read its logs, tear down, leave nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

import aiinfra
from aiinfra.errors import ClusterConflict, ClusterNotFound

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.ray


def ray_processes(tag: str) -> list[str]:
    out = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if f"/tmp/aiinfra-ray/{tag}" in cmd:
            out.append(cmd[:120])
    return out


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIINFRA_HOME", str(tmp_path / "home"))
    return tmp_path


def test_launch_submit_logs_down(home: Path) -> None:
    cluster = aiinfra.launch(ROOT / "clusters" / "local.yaml", workers=2, name="e2e-ddp", timeout=180)
    try:
        status = cluster.status()
        assert status.ready and status.workers_joined == 2
        assert len([n for n in status.nodes if n.role == "worker"]) == 2
        job = cluster.submit("python examples/train_ddp.py --workers 2 --epochs 3", working_dir=str(ROOT))
        lines = list(job.logs(follow=True))
        assert job.wait(timeout=300) == "SUCCEEDED", "\n".join(lines[-40:])
        text = "\n".join(lines)
        assert "loss" in text
        again = aiinfra.connect("e2e-ddp")
        assert again.status().ready
        assert list(again.job(job.id).logs())
        _drivers_need_the_token(cluster)
    finally:
        cluster.down()
    assert ray_processes("e2e-ddp") == []
    with pytest.raises(ClusterNotFound):
        aiinfra.connect("e2e-ddp")


def _drivers_need_the_token(cluster: aiinfra.Cluster) -> None:
    """Token auth is on for local clusters: init_ray passes the token, a driver without it is refused."""
    env = cluster.backend.driver_env()  # type: ignore[attr-defined]
    assert env["RAY_AUTH_MODE"] == "token" and len(env["RAY_AUTH_TOKEN"]) >= 32
    probe = (
        "import ray, sys\n"
        "ray.init(address=sys.argv[1], logging_level='ERROR')\n"
        "print('JOINED', ray.get(ray.remote(lambda: 41).remote(), timeout=60) + 1)\n"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    bare = subprocess.run([sys.executable, "-c", probe, env["RAY_ADDRESS"]], env=base, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert bare.returncode != 0 and "JOINED" not in bare.stdout, bare.stdout + bare.stderr
    # init_ray in a fresh process that imported Ray before it knew the token, as a notebook does.
    joined = (
        "import ray, sys, aiinfra\n"
        "c = aiinfra.connect(sys.argv[1])\n"
        "c.init_ray(logging_level='ERROR')\n"
        "print('JOINED', ray.get(ray.remote(lambda: 41).remote(), timeout=60) + 1)\n"
    )
    ok = subprocess.run([sys.executable, "-c", joined, cluster.name], env=base, capture_output=True, text=True,
                        timeout=180, check=False, cwd=ROOT)  # fmt: skip
    assert "JOINED 42" in ok.stdout, ok.stdout + ok.stderr


def test_relaunch_reattaches_and_another_definition_is_refused(home: Path) -> None:
    cluster = aiinfra.launch(ROOT / "clusters" / "local.yaml", workers=1, name="e2e-taken", timeout=180)
    try:
        # A notebook's launch cell run again: the same cluster, handed back (no new Ray processes).
        before = sorted(ray_processes("e2e-taken"))
        again = aiinfra.launch(ROOT / "clusters" / "local.yaml", workers=1, name="e2e-taken", progress=None)
        assert again.reattached and not cluster.reattached
        assert again.status().ready and again.dashboard_url == cluster.dashboard_url
        assert sorted(ray_processes("e2e-taken")) == before
        # From a new process too (a restarted kernel), without naming the worker count.
        code = "import aiinfra; c = aiinfra.launch('clusters/local.yaml', name='e2e-taken'); print(c.reattached)"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert done.stdout.strip() == "True", done.stderr[-2000:]
        other = home / "local-2cpu.yaml"
        text = (ROOT / "clusters" / "local.yaml").read_text()
        other.write_text(text.replace("cpus_per_worker: 1", "cpus_per_worker: 2"))
        with pytest.raises(ClusterConflict) as refused:
            aiinfra.launch(other, workers=3, name="e2e-taken")
        assert refused.value.differences == ["local.cpus_per_worker: running 1, asked 2", "workers: running 1, asked 3"]
        assert sorted(ray_processes("e2e-taken")) == before  # refused before touching anything
    finally:
        cluster.down()
    assert ray_processes("e2e-taken") == []


def test_cli_status_of_unknown_cluster_exits_1(home: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "aiinfra", "status", "nope", "--namespace", "x"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "KUBECONFIG": str(home / "missing")},
    )
    # A cluster that is not there is a failed lookup (ClusterNotFound, exit 1), not bad input (2).
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("aiinfra: no local cluster named 'nope'")
