"""Bringing a simulated cluster up and down, and the errors users hit (stale state, missing build)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from aiinfra import sim
from aiinfra.errors import AiinfraError
from aiinfra.local_ports import free_port
from aiinfra.sim.processes import check_ports_free, port_in_use

SIM_DEFINITION = Path(__file__).resolve().parents[2] / "clusters" / "a800-ib.yaml"


def test_missing_build_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("AIINFRA_K8S_TOOLS", str(tmp_path / "no-tools"))
    with pytest.raises(AiinfraError, match="make k8s-tools"):
        sim.up(SIM_DEFINITION, nodes=1, state_dir=tmp_path / "state")


def test_stale_state_folder_is_reported_and_down_clears_it(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / ".aiinfra-sim").touch()
    dead = {"name": "etcd", "pid": 2**22 + 7, "binary": "/nonexistent/etcd", "ports": {"client": free_port()}}
    (state / "state.json").write_text(
        json.dumps({"name": "a800-ib", "server": "https://127.0.0.1:1", "processes": {"etcd": dead}})
    )
    with pytest.raises(AiinfraError, match="stale state folder"):
        sim.up(SIM_DEFINITION, nodes=1, state_dir=state)
    assert sim.down(state) == []
    assert sim.status(state).cluster is None


def test_foreign_folder_is_not_used(tmp_path, k8s_tools):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(AiinfraError, match="not created by 'aiinfra sim'"):
        sim.up(SIM_DEFINITION, nodes=1, state_dir=tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_port_clash_is_a_clear_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert port_in_use(port)
        with pytest.raises(AiinfraError, match=rf"port {port} .*already in use"):
            check_ports_free("etcd", {"client": port})


def test_up_then_down_leaves_no_process_and_no_port(tmp_path, k8s_tools):
    state = tmp_path / "state"
    cluster = sim.up(SIM_DEFINITION, nodes=1, state_dir=state)
    try:
        ports = [p for proc in cluster.processes.values() for p in proc.ports.values()]
        assert all(port_in_use(p) for p in ports)
        assert sim.status(state).running
        # a second up with more nodes reuses the processes and only adds the missing nodes
        bigger = sim.up(SIM_DEFINITION, nodes=3, state_dir=state)
        assert bigger.reused and bigger.nodes == 3
        assert bigger.processes["kube-apiserver"].pid == cluster.processes["kube-apiserver"].pid
        assert sim.status(state).nodes_ready == 3
        # a process that died makes the folder 'partly running': a clear error, not a silent restart
        os.kill(cluster.processes["kwok"].pid, signal.SIGKILL)
        with pytest.raises(AiinfraError, match="only partly running"):
            sim.up(SIM_DEFINITION, nodes=1, state_dir=state)
    finally:
        stopped = sim.down(state)
    assert "kube-apiserver" in stopped and "etcd" in stopped
    assert not any(p.alive() for p in cluster.processes.values())
    assert not any(port_in_use(p) for p in ports)
    assert sim.status(state).cluster is None
    assert (state / "logs" / "kube-apiserver.log").exists()
