"""A launch interrupted at a random point (KeyboardInterrupt, or the process killed), followed by
`aiinfra down`, leaves nothing: the same cycles as benchmarks/launch_interrupt_cycles.py, three of them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from aiinfra.k8s.client import Kube

ROOT = Path(__file__).resolve().parents[2]


def _cycles_module() -> Any:
    path = ROOT / "benchmarks" / "launch_interrupt_cycles.py"
    spec = importlib.util.spec_from_file_location("launch_interrupt_cycles", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_three_interrupted_cycles_leave_nothing(sim_cluster: Any, kube: Kube, namespace: str) -> None:
    cycles = _cycles_module()
    plan = [("created", "SIGKILL"), ("waiting", "SIGINT"), ("waiting", "SIGKILL")]
    report = cycles.run_cycles(kube, namespace, cycles=3, seed=7, plan=plan)
    assert [c.down_rc for c in report.cycles] == [0, 0, 0], report.cycles  # each had a RayCluster to delete
    assert report.left == dict.fromkeys(report.left, 0), (report.left, report.cycles)
    assert set(report.left) >= {"rayclusters", "pods", "secrets", "configmaps", "port_forward_processes"}
