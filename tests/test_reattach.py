"""launch() on a name already in use, without starting Ray: a recorded local cluster whose "processes"
are a stand-in holding its temp dir on its command line (what LocalRayBackend.delete() looks for).
tests/test_local_e2e.py does the same against real Ray."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import aiinfra
from aiinfra.definition import load_definition
from aiinfra.errors import AiinfraError, ClusterConflict
from aiinfra.launch.local import LocalRayBackend

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / "clusters" / "local.yaml"


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalRayBackend]:
    """A local cluster 'rec' launched from clusters/local.yaml with 2 workers, as its state records it."""
    monkeypatch.setenv("AIINFRA_HOME", str(tmp_path / "home"))
    b = LocalRayBackend(load_definition(LOCAL), f"rec-{tmp_path.name[-8:]}", 2)
    b._write_state({"workers": 2, "gcs": "127.0.0.1:9", "dashboard_port": 9})
    yield b
    b.delete()


def stand_in(b: LocalRayBackend) -> subprocess.Popen:
    return subprocess.Popen(["sh", "-c", "sleep 120", str(b.temp_dir)])


def test_same_definition_reattaches_without_creating(recorded: LocalRayBackend) -> None:
    proc = stand_in(recorded)
    try:
        c = aiinfra.launch(LOCAL, name=recorded.name, wait=False, progress=None)
        assert c.reattached and c.backend.workers == 2  # type: ignore[attr-defined]
        c = aiinfra.launch(LOCAL, workers=2, name=recorded.name, wait=False, progress=None)
        assert c.reattached
    finally:
        proc.kill()
        proc.wait()


def test_another_definition_is_refused_naming_the_fields(recorded: LocalRayBackend, tmp_path: Path) -> None:
    other = tmp_path / "local.yaml"
    text = LOCAL.read_text().replace("gpus_per_worker: 0", "gpus_per_worker: 1")
    other.write_text(text.replace("description: local Ray cluster on this machine (CPU, gloo)", "description: mine"))
    proc = stand_in(recorded)
    try:
        with pytest.raises(ClusterConflict) as refused:
            aiinfra.launch(other, workers=3, name=recorded.name, wait=False)
    finally:
        proc.kill()
        proc.wait()
    assert refused.value.differences == [
        "description: running 'local Ray cluster on this machine (CPU, gloo)', asked 'mine'",
        "local.gpus_per_worker: running 0, asked 1",
        "workers: running 2, asked 3",
    ]
    assert refused.value.exit_code == 2
    state = json.loads((recorded.state_dir / "state.json").read_text())
    assert state["workers"] == 2 and state["spec"]["local"]["gpus_per_worker"] == 0  # untouched


def test_recorded_cluster_without_processes_is_reported(recorded: LocalRayBackend) -> None:
    with pytest.raises(AiinfraError, match=rf"none of its processes runs.*aiinfra down {recorded.name}"):
        aiinfra.launch(LOCAL, name=recorded.name, wait=False)
