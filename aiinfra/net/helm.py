"""Driving the real ``helm`` binary: install or upgrade a pinned chart, read back, uninstall.

The binary is ``$AIINFRA_K8S_TOOLS/helm`` (built by ``make k8s-tools``) or
the first ``helm`` on PATH. A chart comes from its Helm repository by
``--repo URL`` (no ``helm repo add`` needed), from an ``oci://`` registry, or
from a local chart folder/archive (an air-gapped site's copy; the tests' stand-in).

An upgrade is skipped when the release already runs the same chart version
with the same values, so a second deploy reports no change.

Example:
    >>> helm = Helm()                                                     # doctest: +SKIP
    >>> helm.upgrade_install("network-operator", source, "ns", {"nfd": {"enabled": True}})  # doctest: +SKIP
    'installed'
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aiinfra.errors import AiinfraError, UsageError
from aiinfra.upstream import Chart


@dataclass(frozen=True)
class ChartSource:
    """Where helm gets a chart: ``ref`` is a local path, ``oci://...``, or a name in ``repo``."""

    ref: str
    version: str | None = None
    repo: str | None = None
    label: str | None = None
    """``name-version`` as ``helm list`` shows the deployed chart (to skip an unchanged upgrade)."""

    def args(self) -> list[str]:
        out = [self.ref]
        if self.repo:
            out += ["--repo", self.repo]
        if self.version and not Path(self.ref).exists():
            out += ["--version", self.version]
        return out


def pinned_source(chart: Chart, repository: str | None = None) -> ChartSource:
    """The pinned chart from its Helm repository, or from ``repository`` (URL or oci:// registry).

    Example:
        >>> from aiinfra.upstream import NETWORK_OPERATOR
        >>> pinned_source(NETWORK_OPERATOR).args()
        ['network-operator', '--repo', 'https://helm.ngc.nvidia.com/nvidia', '--version', '26.4.1']
    """
    label = f"{chart.name}-{chart.version}"
    if repository and repository.startswith("oci://"):
        return ChartSource(f"{repository.rstrip('/')}/{chart.name}", chart.version, None, label)
    return ChartSource(chart.name, chart.version, repository or chart.repo_url, label)


def helm_binary() -> str:
    """The helm to run: $AIINFRA_K8S_TOOLS/helm, else PATH."""
    tools = os.environ.get("AIINFRA_K8S_TOOLS")
    candidates = [str(Path(tools) / "helm")] if tools else []
    found = shutil.which("helm")
    candidates += [found] if found else []
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    raise UsageError("helm is needed: run 'make k8s-tools' (builds it into .cache/k8s-tools/bin) or install helm 3")


class Helm:
    """One helm binary against one kubeconfig."""

    def __init__(self, binary: str | None = None, kubeconfig: str | None = None) -> None:
        self.binary = binary or helm_binary()
        self.kubeconfig = kubeconfig or os.environ.get("KUBECONFIG")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, *args]
        if self.kubeconfig:
            cmd += ["--kubeconfig", self.kubeconfig]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if check and proc.returncode != 0:
            raise AiinfraError(f"helm {args[0]} failed: {(proc.stderr or proc.stdout).strip()}")
        return proc

    def show_crds(self, source: ChartSource) -> str:
        """The CRD documents of a chart and its sub-charts (``helm show crds``)."""
        return self._run("show", "crds", *source.args()).stdout

    def deployed(self, release: str, namespace: str) -> tuple[str, dict[str, Any]] | None:
        """(chart-version string, user values) of a deployed release, or None."""
        proc = self._run("list", "-n", namespace, "--filter", f"^{release}$", "-o", "json")
        rows = [r for r in json.loads(proc.stdout or "[]") if r.get("status") == "deployed"]
        if not rows:
            return None
        values = self._run("get", "values", release, "-n", namespace, "-o", "json").stdout
        return rows[0]["chart"], json.loads(values or "null") or {}

    def upgrade_install(
        self,
        release: str,
        source: ChartSource,
        namespace: str,
        values: dict[str, Any],
        chart_label: str | None = None,
        dry_run: bool = False,
        wait_s: int = 0,
    ) -> str:
        """Install or upgrade; returns 'unchanged', 'installed', 'upgraded' or 'valid' (dry run)."""
        current = self.deployed(release, namespace)
        if current and chart_label and current == (chart_label, values):
            return "unchanged"
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump(values, f)
        try:
            args = ["upgrade", "--install", release, *source.args(), "-n", namespace, "--create-namespace"]
            args += ["-f", f.name, "--reset-values"]
            if dry_run:
                args.append("--dry-run=server")
            elif wait_s:
                args += ["--wait", "--timeout", f"{wait_s}s"]
            self._run(*args)
        finally:
            os.unlink(f.name)
        if dry_run:
            return "valid"
        return "upgraded" if current else "installed"

    def uninstall(self, release: str, namespace: str) -> bool:
        """Uninstall; False when there was no such release."""
        proc = self._run("uninstall", release, "-n", namespace, "--wait", check=False)
        if proc.returncode != 0:
            if "not found" in (proc.stderr + proc.stdout):
                return False
            raise AiinfraError(f"helm uninstall {release} failed: {proc.stderr.strip()}")
        return True
