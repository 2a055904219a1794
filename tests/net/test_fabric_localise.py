"""Localisation by pairing: names each seeded fault, never a healthy node, within 2*log2(N)+2 rounds."""

from __future__ import annotations

import pytest

from aiinfra.errors import UsageError
from aiinfra.net.fabric.localise import Fault, LocaliseConfig, localise, round_budget, round_robin
from aiinfra.net.fabric.simulate import FLOOR, Fabric, run_trial

TRIALS = 100  # per scenario at 16 nodes (a third at 64); benchmarks/fabric_localisation.py runs 1,000 up to 1,024 nodes


@pytest.mark.parametrize("scenario", ["none", "slow_node", "slow_rail", "bad_link", "two_faults"])
@pytest.mark.parametrize("nodes", [16, 64])
def test_no_false_positive_no_miss_within_budget(scenario: str, nodes: int) -> None:
    trials = [run_trial(scenario, nodes, 8, seed) for seed in range(TRIALS if nodes == 16 else TRIALS // 3)]
    assert sum(t.false_positives for t in trials) == 0
    assert sum(t.misses for t in trials) == 0
    assert max(t.rounds for t in trials) <= round_budget(nodes)


def test_names_the_kind_of_fault() -> None:
    for scenario, kind in (("slow_node", "node"), ("slow_rail", "rail"), ("bad_link", "link")):
        fabric = Fabric.scenario(scenario, 32, 4, seed=11)
        result = localise(fabric.nodes, fabric.rails, fabric.measure, LocaliseConfig(FLOOR * fabric.line, seed=11))
        assert [f.kind for f in result.faults] == [kind]
        assert result.faults == fabric.truth
        assert not result.unresolved


def test_healthy_fabric_stops_after_the_screen() -> None:
    fabric = Fabric.scenario("none", 16, 2, seed=0, sigma=0.0)
    result = localise(fabric.nodes, fabric.rails, fabric.measure, LocaliseConfig(FLOOR * fabric.line))
    assert result.faults == [] and len(result.rounds) == 2
    assert all(why == "screen" for r in result.rounds for why in r.purpose)


def test_a_suspect_is_remeasured_beside_known_good_nodes() -> None:
    fabric = Fabric.scenario("slow_node", 16, 2, seed=4, sigma=0.0)
    bad = fabric.truth[0].node
    result = localise(fabric.nodes, fabric.rails, fabric.measure, LocaliseConfig(FLOOR * fabric.line, seed=4))
    partners = [p[0] if p[1] == bad else p[1] for r in result.rounds[1:] for p in r.pairs if bad in p]
    assert len(partners) == len(set(partners)) >= 2, "a suspect meets a different known-good node each round"
    assert result.faults == [Fault("node", bad)]


def test_a_link_anywhere_is_found_when_every_pair_is_screened() -> None:
    fabric = Fabric.scenario("bad_link_anywhere", 12, 2, seed=5)
    config = LocaliseConfig(FLOOR * fabric.line, screen_rounds=11, seed=5)
    result = localise(fabric.nodes, fabric.rails, fabric.measure, config)
    assert result.faults == fabric.truth


def test_round_robin_measures_every_pair_once() -> None:
    for n in (7, 8):
        rounds = [round_robin(n, k) for k in range(n - 1 if n % 2 == 0 else n)]
        pairs = [p for r in rounds for p in r]
        assert len(pairs) == len(set(pairs)) == n * (n - 1) // 2
        assert all(len({x for p in r for x in p}) == 2 * len(r) for r in rounds), "pairs in a round are disjoint"


def test_bad_input() -> None:
    with pytest.raises(UsageError):
        localise(["a"], ["r0"], lambda pairs: {}, LocaliseConfig(22.5))
    with pytest.raises(UsageError, match="readings"):
        localise(["a", "b"], ["r0", "r1"], lambda pairs: {p: [24.0] for p in pairs}, LocaliseConfig(22.5))
