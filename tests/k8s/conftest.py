"""Fixtures for tests against the simulated Kubernetes cluster (``aiinfra.sim``).

``sim_cluster`` brings up one simulated cluster per test session (etcd,
kube-apiserver, controller-manager, scheduler, kwok, KubeRay operator; 4 fake
A800 nodes from clusters/a800-ib.yaml) and stops it at the end; ``namespace``
gives each test its own namespace. Every test in tests/k8s is marked ``k8s``.

Without built tools (``make k8s-tools``) the tests that need the cluster are
skipped with the reason, except in CI (``CI=true``), where that is a failure.

Example:
    def test_x(kube, namespace):
        kube.core.create_namespaced_config_map(namespace, {"metadata": {"name": "x"}})
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiinfra.sim.tools import missing_tools, tools_dir

ROOT = Path(__file__).resolve().parents[2]
SIM_DEFINITION = ROOT / "clusters" / "a800-ib.yaml"
SIM_NODES = 4


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.k8s)


def require_tools() -> None:
    """Skip (fail in CI) when the simulated-cluster binaries are not built."""
    missing = missing_tools()
    if not missing:
        return
    reason = f"simulated cluster tools not built in {tools_dir()} ({', '.join(missing)}); run 'make k8s-tools'"
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def k8s_tools() -> None:
    """Skip (fail in CI) unless the simulated-cluster binaries are built."""
    require_tools()


@pytest.fixture(scope="session")
def sim_definition() -> Path:
    """The definition the session cluster is made from (SIM_NODES nodes)."""
    return SIM_DEFINITION


@pytest.fixture(scope="session")
def sim_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The session's simulated cluster (a ``aiinfra.sim.SimCluster``); KUBECONFIG points at it meanwhile."""
    require_tools()
    from aiinfra import sim

    state = Path(os.environ.get("AIINFRA_TEST_SIM_STATE") or tmp_path_factory.mktemp("sim"))
    # `timeout` and CI runners stop pytest with SIGTERM: turn it into KeyboardInterrupt so that pytest
    # still runs this fixture's teardown and the detached cluster processes do not outlive the run.
    previous = signal.getsignal(signal.SIGTERM)
    if previous in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        cluster = sim.up(SIM_DEFINITION, nodes=SIM_NODES, state_dir=state)
    except BaseException:
        signal.signal(signal.SIGTERM, previous)
        sim.down(state)  # whatever started before the failure
        raise
    old = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
    try:
        yield cluster
    finally:
        if old is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = old
        if previous in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the teardown short
        try:
            if not os.environ.get("AIINFRA_TEST_SIM_STATE"):  # a state dir given by the user is left running
                sim.down(state)
        finally:
            if previous in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def kube(sim_cluster):
    """``aiinfra.k8s.client.Kube`` bound to the simulated cluster."""
    from aiinfra.k8s.client import Kube

    return Kube(kubeconfig=sim_cluster.kubeconfig)


@pytest.fixture
def namespace(kube) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (not waited for)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    kube.core.create_namespace({"metadata": {"name": name, "labels": {"aiinfra.io/test": "true"}}})
    deadline = time.monotonic() + 30  # pods are refused until the controller-manager made the default SA
    while time.monotonic() < deadline:
        try:
            kube.core.read_namespaced_service_account("default", name)
            break
        except kube.client.exceptions.ApiException:
            time.sleep(0.1)
    try:
        yield name
    finally:
        try:
            kube.core.delete_namespace(name)
        except kube.client.exceptions.ApiException:
            pass
