"""examples/quickstart.ipynb on the local default, executed by nbclient: launch (with the progress
display rendered in the notebook) -> status -> submit -> logs -> down, leaving no Ray process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.quickstart_notebook import ROOT, run_quickstart, text_of_outputs
from tests.test_local_e2e import ray_processes

pytest.importorskip("nbclient")
pytestmark = [pytest.mark.ray, pytest.mark.timeout(900)]


def test_quickstart_notebook_runs_on_the_local_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIINFRA_HOME", str(tmp_path / "home"))  # the kernel inherits this process's environment
    name = "nb-quickstart"
    try:
        nb = run_quickstart({"DEFINITION": "clusters/local.yaml", "NAME": name, "WORKERS": 2})
    finally:
        if ray_processes(name):  # a failed cell left it (or part of it) up
            from aiinfra.definition import load_definition
            from aiinfra.launch.local import LocalRayBackend

            LocalRayBackend(load_definition(ROOT / "clusters" / "local.yaml"), name, 0).delete()
    text = text_of_outputs(nb)
    assert f"{name}: ready, 2/2 workers" in text, text[-3000:]  # ConsoleProgress, rendered by the kernel
    assert f"launched Cluster(name='{name}'" in text
    assert "ready: 2/2 workers joined Ray" in text
    assert "epoch 2/2: loss" in text and "job SUCCEEDED" in text, text[-3000:]
    assert "down: absent" in text
    assert ray_processes(name) == []
