"""Pre-flight fit: every resource of the worker counts, quantities read by the official parser,
and a node holding more than it now has (a GPU fell off the bus) offers no room, not less."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from aiinfra.errors import AiinfraError
from aiinfra.k8s.preflight import NodeRoom, fit, node_rooms, quantity

WORKER = {"cpu": 96.0, "memory": 800 * 2.0**30, "nvidia.com/gpu": 8.0, "rdma/rail0": 1.0}


def test_quantities_use_the_official_parser() -> None:
    assert quantity("64Gi") == 64 * 2**30
    assert quantity("500m") == 0.5
    assert quantity("1.5k") == 1500
    assert quantity("2e3") == 2000
    with pytest.raises(AiinfraError, match="unreadable"):
        quantity("8 GPUs")


def test_cpu_and_memory_are_part_of_the_fit() -> None:
    roomy = {"cpu": 128.0, "memory": 1024 * 2.0**30, "nvidia.com/gpu": 8.0, "rdma/rail0": 1.0}
    assert fit([NodeRoom("n1", roomy)], WORKER, 1).fits
    short_memory = {**roomy, "memory": 512 * 2.0**30}
    report = fit([NodeRoom("n1", short_memory)], WORKER, 1)
    assert not report.fits and report.shortest == "memory"
    assert "800Gi memory" in report.message(WORKER, "gpu=a800")
    assert fit([NodeRoom("n1", {**roomy, "cpu": 64.0})], WORKER, 1).shortest == "cpu"


def _node(name: str, allocatable: dict[str, str]) -> NS:
    return NS(metadata=NS(name=name), spec=NS(unschedulable=False), status=NS(allocatable=allocatable))


def _pod(node: str, requests: dict[str, str]) -> NS:
    return NS(spec=NS(node_name=node, containers=[NS(resources=NS(requests=requests))]))


def test_negative_free_capacity_counts_as_zero() -> None:
    # Allocatable fell to 7 GPUs while a bound pod still holds 8.
    nodes = [_node("lost-gpu", {"nvidia.com/gpu": "7", "cpu": "128", "memory": "1Ti"}),
             _node("ok", {"nvidia.com/gpu": "8", "cpu": "128", "memory": "1Ti"})]
    pods = [_pod("lost-gpu", {"nvidia.com/gpu": "8", "cpu": "500m", "memory": "1Gi"})]
    core = NS(list_node=lambda label_selector: NS(items=nodes),
              list_pod_for_all_namespaces=lambda field_selector: NS(items=pods))
    rooms = {r.name: r.free for r in node_rooms(NS(core=core), {"gpu": "x"})}
    assert rooms["lost-gpu"]["nvidia.com/gpu"] == 0
    assert rooms["lost-gpu"]["cpu"] == 127.5
    report = fit(list(node_rooms(NS(core=core), {"gpu": "x"})), {"nvidia.com/gpu": 8.0}, 1)
    assert report.per_node == {"lost-gpu": 0, "ok": 1} and report.fits
    assert fit([NodeRoom("n", {"nvidia.com/gpu": -1.0})], {"nvidia.com/gpu": 1.0}, 1).per_node == {"n": 0}
