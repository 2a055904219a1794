"""Shared fixtures of the end-to-end tests on process-backed simulator nodes.

The simulator here has no KWOK nodes, only 2 process-backed ones (one per leaf), whose pods the node
agent really runs with the local Ray. One simulator and one RayCluster (``ray_cluster``) serve every
module of this package: starting real Ray in pods on 2 shared cores takes minutes, so CI pays it once.
Modules run in the order of their numeric prefixes: tests that only read come first, the fault test
(which kills a worker) after them, and ``test_90_connect_and_down`` tears the cluster down last and
checks nothing is left. Needs root (namespaces) and the built tools: without them the tests are
skipped with the reason, except in CI, where that fails.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.k8s.conftest import require_tools

ROOT = Path(__file__).resolve().parents[3]
DEFINITION = ROOT / "clusters" / "roce.yaml"  # RoCE with gid_index auto: the node env is needed
NAME = "procnodes"
IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _require_root() -> None:
    reason = "process-backed nodes need root (network, mount and PID namespaces per pod)"
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail(f"CI: {reason}", pytrace=False)
        pytest.skip(reason)


def _leftovers(state: Path, sim: str) -> dict[str, list[str]]:
    """Namespaces and pod processes of this simulator that still exist."""
    from aiinfra.netns.pods import NETNS_PREFIX

    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    netns = [line.split()[0] for line in listing.splitlines() if line.startswith(f"{NETNS_PREFIX}{sim}-")]
    procs = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(state / "pods") in cmd:
                procs.append(f"{entry.name}: {cmd[:120]}")
    return {"netns": netns, "processes": procs}


@pytest.fixture(scope="package")
def proc_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    require_tools()
    _require_root()
    from aiinfra import sim
    from aiinfra.netns.pods import PodNet, sim_id

    state = tmp_path_factory.mktemp("procsim")
    old = os.environ.get("KUBECONFIG")
    try:
        cluster = sim.up(DEFINITION, nodes=0, process_nodes=2, nodes_per_leaf=1, state_dir=state)
        os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
        yield cluster
    finally:
        if old is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = old
        try:
            sim.down(state)
        finally:
            PodNet(sim_id(state)).sweep()  # whatever a failed run left


@pytest.fixture(scope="package")
def pkube(proc_sim):
    """A client of this package's simulator (conftest's ``kube`` is the shared KWOK one)."""
    from aiinfra.k8s.client import Kube

    return Kube(kubeconfig=proc_sim.kubeconfig)


@pytest.fixture(scope="package")
def ray_cluster(proc_sim) -> Iterator:
    import aiinfra

    cluster = aiinfra.launch(DEFINITION, workers=2, name=NAME, timeout=900, progress=None)
    try:
        yield cluster
    finally:
        try:
            cluster.down()
        except Exception:
            pass
