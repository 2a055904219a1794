"""What `ray job submit --working-dir .` from the repository root uploads, packed by Ray's own code.

Ray 2.52 packs a working_dir with `ray._private.runtime_env.packaging`, honouring each .gitignore
it meets (unless RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1); it reads no .rayignore. Build caches (the
Kubernetes tools under .cache/ are hundreds of MB) and .git must stay out, and Ray must skip those
directories whole, not walk them and drop their files one by one.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from ray._private.runtime_env import packaging  # ray is a hard dependency: import it, never skip

from aiinfra.launch.cluster import UPLOAD_EXCLUDES

ROOT = Path(__file__).resolve().parents[1]
NEVER = (".git", ".cache", "build", "dist", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis",
         "tests/fixtures/sysfs", "aiinfra/__pycache__", "aiinfra.egg-info")
SMALL = 8 * 2**20


@pytest.fixture(autouse=True)
def _honour_gitignore(monkeypatch):
    monkeypatch.delenv("RAY_RUNTIME_ENV_IGNORE_GITIGNORE", raising=False)


@pytest.mark.parametrize("heavy", NEVER)
def test_ray_skips_each_heavy_directory_whole(heavy):
    skip = packaging._get_gitignore(ROOT)
    assert skip is not None, "no .gitignore at the repository root"
    assert skip(ROOT / heavy), f"Ray would walk into {heavy}/ (a pattern with a trailing slash?)"


@pytest.mark.parametrize("excludes", [[], list(UPLOAD_EXCLUDES)], ids=["ray-job-submit-cli", "Cluster.submit"])
def test_the_packed_repository_is_small_and_holds_no_caches(tmp_path, excludes):
    out = tmp_path / "pkg.zip"
    packaging._zip_files(str(ROOT), excludes, str(out))
    names = zipfile.ZipFile(out).namelist()
    leaked = [n for n in names if any(n == h or n.startswith(f"{h}/") or f"/{h}/" in n for h in NEVER)]
    assert leaked == [], leaked[:20]
    assert "examples/train_ddp.py" in names and "aiinfra/__init__.py" in names
    assert out.stat().st_size < SMALL, f"{out.stat().st_size / 2**20:.1f} MiB packed"
