"""10,000 scrapes with injected sysfs/procfs and NVML faults: no scrape may raise.

Faults, seeded: files vanishing mid-scrape (FileNotFoundError from read_text/iterdir),
permission errors, garbage content ('N/A (no PMA)', empty, binary, huge numbers, wrong
format), files removed from and restored to the tree between scrapes, and NVML calls
raising NVMLError (GPU lost, unknown, not supported, timeout), raising other exceptions,
or returning garbage. Scrapes call ``Exporter.collect()`` in-process; the exposition of
the last one must still be valid text.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import load_recording
from prometheus_client import generate_latest

from aiinfra.monitor.exporter.collectors import conformance
from aiinfra.monitor.exporter.nvml_session import pynvml

SCRAPES = int(os.environ.get("AIINFRA_FAULT_SCRAPES", "10000"))  # fewer only to debug the test itself
GARBAGE = ["N/A (no PMA)", "", "\xff\xfe\x00", "abc: def", "9" * 40, "4: ACTIVE junk", "-1", "Gb/sec", "0x"]
NVML_ERRORS = [
    pynvml.NVML_ERROR_GPU_IS_LOST, pynvml.NVML_ERROR_UNKNOWN, pynvml.NVML_ERROR_NOT_SUPPORTED,
    pynvml.NVML_ERROR_TIMEOUT, pynvml.NVML_ERROR_UNINITIALIZED, pynvml.NVML_ERROR_NO_PERMISSION,
]  # fmt: skip


class FaultyNvml:
    """Wraps a replay; every call may raise or return garbage."""

    def __init__(self, inner: Any, rng: random.Random, rate: float) -> None:
        self.inner, self.rng, self.rate = inner, rng, rate

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.inner, name)
        if not callable(real):
            return real

        def call(*args: Any) -> Any:
            roll = self.rng.random()
            if roll < self.rate:
                raise pynvml.NVMLError(self.rng.choice(NVML_ERRORS))
            if roll < self.rate * 1.3:
                raise self.rng.choice([OSError("libnvidia-ml gone"), ValueError("bad"), TypeError("bad")])
            if roll < self.rate * 1.6:
                return self.rng.choice([None, "garbage", -1, object()])
            return real(*args)

        return call


@contextmanager
def faulty_files(rng: random.Random, rate: float) -> Iterator[None]:
    read_text, iterdir = Path.read_text, Path.iterdir

    def bad_read(self: Path, *a: Any, **kw: Any) -> str:
        roll = rng.random()
        if roll < rate:
            raise rng.choice([FileNotFoundError(str(self)), PermissionError(str(self)), OSError(22, "EINVAL")])
        if roll < 2 * rate:
            return rng.choice(GARBAGE)
        return read_text(self, *a, **kw)

    def bad_iterdir(self: Path) -> Iterator[Path]:
        if rng.random() < rate:
            raise rng.choice([FileNotFoundError(str(self)), NotADirectoryError(str(self))])
        for i, p in enumerate(iterdir(self)):
            if i > 0 and rng.random() < rate:
                raise FileNotFoundError(str(self))  # the directory vanished mid-listing
            yield p

    Path.read_text, Path.iterdir = bad_read, bad_iterdir  # type: ignore[method-assign]
    try:
        yield
    finally:
        Path.read_text, Path.iterdir = read_text, iterdir  # type: ignore[method-assign]


def mutate_tree(root: Path, rng: random.Random, stash: Path) -> None:
    """Remove a random file (keeping it in ``stash``) or put back one removed earlier."""
    stashed = list(stash.rglob("*"))
    files = [p for p in stashed if p.is_file()]
    if files and rng.random() < 0.5:
        src = rng.choice(files)
        dst = root / src.relative_to(stash)
        if dst.parent.is_dir():
            shutil.move(src, dst)
        return
    candidates = [p for p in (root / "sys/class/infiniband").rglob("*") if p.is_file() and not p.is_symlink()][:400]
    candidates += [root / "proc/net/bonding/bond0"]
    victim = rng.choice(candidates)
    if victim.exists():
        target = stash / victim.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(victim, target)


@pytest.mark.timeout(1200)
def test_ten_thousand_faulty_scrapes(make_exporter, trees, tmp_path: Path, monkeypatch) -> None:
    rng = random.Random(12)
    root = tmp_path / "tree"
    shutil.copytree(trees["mini-faults"], root, symlinks=True)
    monkeypatch.setitem(trees, "mini-faults", root)
    stash = tmp_path / "stash"
    stash.mkdir()
    recording = load_recording("h200x1-health-recorded.json")
    recording.inject_xid(0, 79)
    exp = make_exporter("mini-faults", nvml=FaultyNvml(recording, rng, rate=0.02))
    failures = 0
    with faulty_files(rng, rate=0.01):
        for i in range(SCRAPES):
            # conformance (discovery + node checks) normally runs once a minute: make it run every 50th scrape
            monkeypatch.setattr(conformance, "REFRESH_S", 0.0 if i % 50 == 0 else 3600.0)
            if i % 20 == 0:
                mutate_tree(root, rng, stash)
            families = list(exp.collect())  # raising here is the failure this test exists for
            failures += sum(
                1 for f in families if f.name == "aiinfra_collector_success" for s in f.samples if s.value == 0
            )
    assert failures > SCRAPES // 10, "faults were not injected"
    errors = {k: v for k, v in exp.error_totals.items()}
    assert {reason for _, reason in errors} >= {"read", "parse", "nvml"}
    text = generate_latest(exp.registry()).decode()
    assert "aiinfra_collector_errors_total" in text
