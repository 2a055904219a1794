"""The localisation on a real data plane: 8 namespaces, 2 rails, tc at 100 Mbit/s, gloo between them.

One set of namespaces and workers serves every case (each worker imports torch once); faults are
tc rates at 50%. Needs root and ``ip netns``; skipped otherwise.
"""

from __future__ import annotations

import random
import subprocess
from collections.abc import Iterator

import pytest

from aiinfra.net.fabric.localise import Fault, LocaliseConfig, localise, round_robin
from aiinfra.netns import fabric as netns

pytestmark = pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))


@pytest.fixture(scope="module")
def plane() -> Iterator[object]:
    from aiinfra.net.fabric.netns_plane import NetnsDataPlane

    netns.sweep()
    p = NetnsDataPlane.start(nodes=8, rails=2, rate_mbit=100)
    try:
        yield p
    finally:
        p.close()
        netns.sweep()


def _faults(plane: object, seed: int) -> list[Fault]:
    p = plane  # typed loosely: the fixture's class imports torch-using modules lazily
    result = localise(p.names, p.rails, p.measure, LocaliseConfig(p.floor, seed=seed))  # type: ignore[attr-defined]
    p.heal()  # type: ignore[attr-defined]
    return result.faults


def test_three_healthy_runs_find_nothing(plane: object) -> None:
    assert [_faults(plane, seed) for seed in range(3)] == [[], [], []]


def test_names_a_slow_node(plane: object) -> None:
    plane.slow_node(3)  # type: ignore[attr-defined]
    assert _faults(plane, 1) == [Fault("node", "ns3")]


def test_names_a_slow_rail(plane: object) -> None:
    plane.slow_rail(5, 1)  # type: ignore[attr-defined]
    assert _faults(plane, 2) == [Fault("rail", "ns5", "rail1")]


def test_names_a_slow_link(plane: object) -> None:
    # A pair of the first screening round of seed 3, so the default two-round screen measures it.
    order = list(range(8))
    random.Random(3).shuffle(order)
    a, b = sorted((order[x], order[y]) for x, y in round_robin(8, 0)[:1])[0]
    a, b = min(a, b), max(a, b)
    plane.slow_link(a, b, 0)  # type: ignore[attr-defined]
    assert _faults(plane, 3) == [Fault("link", f"ns{a}", "rail0", f"ns{b}")]


def test_namespaces_are_gone_after_a_sweep() -> None:
    netns.sweep()
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not [line for line in listed.splitlines() if line.startswith(netns.PREFIX)]
