"""Where the simulator finds its binaries, CRDs and KWOK stages.

Binaries are built from Go modules by ``tests/k8s/build.sh`` (``make
k8s-tools``). They are looked up in ``$AIINFRA_K8S_TOOLS``, else in a source
checkout's ``.cache/k8s-tools/bin``, else (an installed wheel) in the per-user
cache ``~/.cache/aiinfra/k8s-tools/bin``. CRD YAML is read from the Go module
cache at its real path inside each operator's module; the module versions are
pinned in the package data ``aiinfra/sim/crd_modules/go.mod`` and fetched with
``go mod download -json``.

Example:
    >>> from aiinfra.sim.tools import missing_tools
    >>> missing_tools()                   # doctest: +SKIP
    []
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from aiinfra.errors import AiinfraError, UsageError

TOOLS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "ray-operator")
CRD_MODULES_GOMOD = Path(__file__).resolve().parent / "crd_modules" / "go.mod"
_CHECKOUT = Path(__file__).resolve().parents[2]
"""The repository root when aiinfra runs from a source checkout (not from a wheel)."""

KUBERAY = "github.com/ray-project/kuberay/ray-operator"
NAD = "github.com/k8snetworkplumbingwg/network-attachment-definition-client"
NETWORK_OPERATOR = "github.com/Mellanox/network-operator"
SRIOV = "github.com/k8snetworkplumbingwg/sriov-network-operator"
PROMETHEUS_OPERATOR = "github.com/prometheus-operator/prometheus-operator"
KWOK = "sigs.k8s.io/kwok"

# CRD files per module, relative to the module root (globs allowed). Kept to what aiinfra renders or
# its operators need: installing every prometheus-operator CRD (several MiB) would slow `sim up`.
CRD_FILES: dict[str, tuple[str, ...]] = {
    KUBERAY: (
        "config/crd/bases/ray.io_rayclusters.yaml",
        "config/crd/bases/ray.io_rayjobs.yaml",
        "config/crd/bases/ray.io_rayservices.yaml",
    ),
    NAD: ("artifacts/networks-crd.yaml",),
    NETWORK_OPERATOR: (
        "config/crd/bases/mellanox.com_nicclusterpolicies.yaml",
        "config/crd/bases/mellanox.com_hostdevicenetworks.yaml",
        "config/crd/bases/mellanox.com_ipoibnetworks.yaml",
        "config/crd/bases/mellanox.com_macvlannetworks.yaml",
    ),
    SRIOV: ("config/crd/bases/sriovnetwork.openshift.io_*.yaml",),
    PROMETHEUS_OPERATOR: (
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
        "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
        "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
    ),
}
# nv-ipam (github.com/Mellanox/nvidia-k8s-ipam) is not served by the module proxy: no IPPool CRD.
KWOK_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)


def tools_dir() -> Path:
    """The folder holding the built binaries.

    Example:
        >>> tools_dir().name
        'bin'
    """
    env = os.environ.get("AIINFRA_K8S_TOOLS")
    if env:
        return Path(env)
    if (_CHECKOUT / "tests" / "k8s" / "build.sh").is_file():
        return _CHECKOUT / ".cache" / "k8s-tools" / "bin"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aiinfra" / "k8s-tools" / "bin"


def missing_tools(names: tuple[str, ...] = TOOLS) -> list[str]:
    """Names of the binaries that are not built yet."""
    d = tools_dir()
    return [n for n in names if not os.access(d / n, os.X_OK)]


def tool(name: str) -> str:
    """Absolute path of one binary; raise a clear error when it is not built."""
    path = tools_dir() / name
    if not os.access(path, os.X_OK):
        missing = ", ".join(missing_tools())
        raise UsageError(
            f"{name} is not built ({path} missing; missing: {missing}): in a source checkout run "
            f"'make k8s-tools' (tests/k8s/build.sh); with an installed aiinfra build them with that script "
            f"from the aiinfra repository into {tools_dir()} or set AIINFRA_K8S_TOOLS to where they are"
        )
    return str(path)


def go_binary() -> str:
    found = os.environ.get("GO") or shutil.which("go") or "/usr/local/go/bin/go"
    if not os.access(found, os.X_OK):
        raise UsageError("the 'go' command is needed to fetch CRD modules: install Go 1.26 (go.dev/dl) or set GO")
    return found


def pinned_modules(gomod: Path = CRD_MODULES_GOMOD) -> dict[str, str]:
    """module -> version, from the require block of the CRD module's go.mod."""
    try:
        text = gomod.read_text(encoding="utf-8")
    except OSError as exc:
        raise AiinfraError(f"cannot read {gomod}: {exc.strerror}") from None
    block = re.search(r"^require \((.*?)^\)", text, re.S | re.M)
    lines = block.group(1).splitlines() if block else re.findall(r"^require (.+)$", text, re.M)
    pins = {}
    for line in lines:
        parts = line.split("//")[0].split()
        if len(parts) == 2:
            pins[parts[0]] = parts[1]
    return pins


def module_dir(module: str, version: str | None = None) -> Path:
    """Directory of ``module`` in the Go module cache, downloading it if needed."""
    version = version or pinned_modules().get(module)
    if not version:
        raise AiinfraError(f"{module} is not pinned in {CRD_MODULES_GOMOD}")
    cached = _module_cache() / f"{_escape(module)}@{_escape(version)}"
    if (cached / "go.mod").is_file() or (cached / "LICENSE").is_file():  # extracted before: skip the go command
        return cached
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GO111MODULE": "on"}
    try:
        out = subprocess.run(
            [go_binary(), "mod", "download", "-json", f"{module}@{version}"],
            capture_output=True,
            text=True,
            env=env,
            cwd=CRD_MODULES_GOMOD.parent,
            timeout=600,
        )
    except subprocess.TimeoutExpired:
        raise AiinfraError(f"go mod download {module}@{version} took more than 10 minutes") from None
    try:
        info = json.loads(out.stdout)
    except ValueError:
        info = {"Error": out.stderr.strip() or out.stdout.strip()}
    if info.get("Error") or not info.get("Dir"):
        raise AiinfraError(f"cannot fetch Go module {module}@{version}: {info.get('Error', 'no Dir')}")
    return Path(info["Dir"])


def _escape(path: str) -> str:
    """The module cache's case encoding: 'Mellanox' -> '!mellanox'."""
    return "".join(f"!{c.lower()}" if c.isupper() else c for c in path)


def _module_cache() -> Path:
    if os.environ.get("GOMODCACHE"):
        return Path(os.environ["GOMODCACHE"])
    gopath = os.environ.get("GOPATH", "").split(os.pathsep)[0] or str(Path.home() / "go")
    return Path(gopath) / "pkg" / "mod"


def crd_files(modules: dict[str, tuple[str, ...]] = CRD_FILES) -> list[Path]:
    """Every CRD YAML file the simulator installs, at its path in the module cache."""
    files: list[Path] = []
    for module, patterns in modules.items():
        root = module_dir(module)
        for pattern in patterns:
            found = sorted(root.glob(pattern))
            if not found:
                raise AiinfraError(f"{module}: no file {pattern} in {root}")
            files.extend(found)
    return files


def kwok_stages() -> str:
    """KWOK's default 'fast' node and pod stages as one multi-document YAML (its --config)."""
    root = module_dir(KWOK)
    return "\n---\n".join((root / rel).read_text(encoding="utf-8").strip() for rel in KWOK_STAGES) + "\n"
