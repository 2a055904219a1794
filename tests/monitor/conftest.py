"""Fixtures for the exporter tests: sysfs/procfs trees built at test time, recordings, monitor tools.

``monitor_tool(name)`` returns a binary from the monitor tools directory
($AIINFRA_MONITOR_TOOLS, default <repo>/.cache/monitor-tools/bin, built by ``make monitor-tools``);
without it the test is skipped with the reason, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aiinfra.definition.loader import load_definition
from aiinfra.monitor.exporter.exporter import Exporter
from aiinfra.monitor.exporter.nvml_replay import ReplayNvml
from aiinfra.monitor.exporter.registry import ExporterConfig

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from make_exporter_trees import MACHINES, build  # noqa: E402
from make_gpu_health import health  # noqa: E402

DEFINITIONS = {
    "hgx-4hdr-bond": "a800-ib",
    "hgx-4hdr-faults": "a800-ib",
    "hgx-8ndr": "h100-ndr",
    "mini-faults": "a800-ib",
}


def tools_dir() -> Path:
    return Path(os.environ.get("AIINFRA_MONITOR_TOOLS", ROOT / ".cache" / "monitor-tools" / "bin"))


@pytest.fixture(scope="session")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("exporter-trees")
    return {m: build(m, out) for m in MACHINES}


@pytest.fixture(scope="session")
def monitor_tool() -> Callable[[str], Path]:
    def find(name: str) -> Path:
        path = tools_dir() / name
        if not path.is_file():
            msg = f"{path} not built: run `make monitor-tools`"
            if os.environ.get("CI") == "true":
                pytest.fail(msg)
            pytest.skip(msg)
        return path

    return find


def nvml_for(machine: str) -> ReplayNvml:
    """The GPU recording that goes with a tree: H100 (Hopper) for 8ndr, A800 otherwise; faults with faults."""
    if machine == "hgx-8ndr":
        return ReplayNvml(health("h100-8gpu.json", hopper=True, faults=False))
    return ReplayNvml(health("a800-8gpu.json", hopper=False, faults=machine.endswith("faults")))


@pytest.fixture
def make_exporter(trees: dict[str, Path]) -> Iterator[Callable[..., Exporter]]:
    made: list[Exporter] = []

    def make(machine: str, nvml: object = "default", **kw: object) -> Exporter:
        root = trees[machine]
        cfg = ExporterConfig(
            sysfs=root / "sys",
            procfs=root / "proc",
            definition=load_definition(ROOT / "clusters" / f"{DEFINITIONS[machine]}.yaml"),
            nvml=nvml_for(machine) if nvml == "default" else nvml,
            **kw,  # type: ignore[arg-type]
        )
        exp = Exporter(cfg)
        made.append(exp)
        return exp

    yield make
    for exp in made:
        exp.close()


def load_recording(name: str) -> ReplayNvml:
    return ReplayNvml(json.loads((ROOT / "tests" / "fixtures" / "nvml" / name).read_text()))
