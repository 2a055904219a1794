"""Shared test helpers: golden files, and the generated sysfs fixture trees.

Set UPDATE_GOLDEN=1 (``make golden``) to rewrite golden files instead of
comparing with them. The sysfs trees under tests/fixtures/sysfs/ are built by
tests/fixtures/make_sysfs.py when a session starts (not committed), and rebuilt
whenever that script or its tree writer (aiinfra/sim/kernel_files.py, node_tree.py) changes.
"""

from __future__ import annotations

import hashlib
import os
import runpy
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
FIXTURES = ROOT / "tests" / "fixtures"


def build_sysfs_fixtures() -> Path:
    """Build tests/fixtures/sysfs/ from make_sysfs.py unless the trees of this version exist."""
    script = FIXTURES / "make_sysfs.py"
    out = FIXTURES / "sysfs"
    stamp = out / ".built-from"
    writers = [ROOT / "aiinfra" / "sim" / name for name in ("kernel_files.py", "node_tree.py")]  # what it builds with
    digest = hashlib.sha256(script.read_bytes() + b"".join(w.read_bytes() for w in writers)).hexdigest()
    if stamp.is_file() and stamp.read_text() == digest:
        return out
    runpy.run_path(str(script))["build"](out)
    stamp.write_text(digest)
    return out


def pytest_sessionstart(session: pytest.Session) -> None:
    # Before collection: docstring examples in aiinfra/ read these trees too.
    build_sysfs_fixtures()


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """Compare ``text`` with tests/golden/<relpath>, or rewrite it under UPDATE_GOLDEN=1."""

    def check(relpath: str, text: str) -> None:
        path = GOLDEN / relpath
        if os.environ.get("UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"missing golden {path}; run `make golden`"
        assert text == path.read_text(encoding="utf-8"), f"{path} is stale; run `make golden` and review the diff"

    return check


@pytest.fixture(scope="session")
def upstream_mirror() -> Path:
    """The offline mirror of upstream charts and CRDs ($AIINFRA_UPSTREAM_MIRROR): skipped when unset, except in CI."""
    env = os.environ.get("AIINFRA_UPSTREAM_MIRROR")
    if not env:
        reason = "AIINFRA_UPSTREAM_MIRROR is not set (point it at ../shared/vendor, the upstream mirror)"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"CI: {reason}", pytrace=False)
        pytest.skip(reason)
    path = Path(env)
    assert path.is_dir(), f"AIINFRA_UPSTREAM_MIRROR={env} is not a folder"
    return path
