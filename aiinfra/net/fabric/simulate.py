"""A simulated fabric with seeded faults and noise, to measure localisation against the truth.

A pair's busbw on a rail is what its slower end, or the link between them,
can carry: ``line x min(health) x (1 + sigma x z)``. Healthy nodes reach 96% of
the line rate (NCCL's figure per NIC: 24 of 25 GB/s on HDR, R12 in
../shared/reference/validation-anchors.md); a fault carries at most 80%.

Scenarios: ``none``, ``slow_node``, ``slow_rail``, ``bad_link`` (a link of a
pair the screen measures), ``bad_link_anywhere`` (any pair: only all-pairs
can be sure to see it), ``two_faults`` (two of the first three, on distinct
nodes).

Example:
    >>> fabric = Fabric.scenario("slow_rail", nodes=16, rails=8, seed=1)
    >>> [str(f) for f in fabric.truth]
    ['rail rail4 of node n02']
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiinfra.net.fabric.localise import Fault, LocaliseConfig, Pair, localise, round_robin

HDR_LINE_GB_S = 25.0
"""HDR InfiniBand, 200 Gb/s = 25 GB/s per rail."""
HEALTHY = 0.96
"""NCCL busbw per NIC / line rate on healthy hardware (R12: 24 of 25 GB/s)."""
FLOOR = 0.90
"""Pass at 90% of line rate (nccl-tests NCCL_TESTS_MIN_BW margin, AICR's NCCL check)."""
SCENARIOS = ("none", "slow_node", "slow_rail", "bad_link", "two_faults", "bad_link_anywhere")


@dataclass
class Fabric:
    """Per node and rail health, per link health, and the noise of one measurement."""

    nodes: list[str]
    rails: list[str]
    health: dict[tuple[int, int], float] = field(default_factory=dict)
    link_health: dict[tuple[int, int, int], float] = field(default_factory=dict)
    sigma: float = 0.03
    line: float = HDR_LINE_GB_S
    seed: int = 0
    truth: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed * 7919 + 17)
        self._index = {name: i for i, name in enumerate(self.nodes)}

    def busbw(self, a: int, b: int, rail: int) -> float:
        """One noisy reading of pair a-b on a rail, GB/s."""
        key = (min(a, b), max(a, b), rail)
        h = min(self.health.get((a, rail), HEALTHY), self.health.get((b, rail), HEALTHY),
                self.link_health.get(key, HEALTHY))
        return self.line * h * (1.0 + self.sigma * self._rng.gauss(0.0, 1.0))

    def measure(self, pairs: Sequence[Pair]) -> Mapping[Pair, Sequence[float]]:
        """The :data:`~aiinfra.net.fabric.localise.Measure` of this fabric."""
        out = {}
        for a, b in pairs:
            i, j = self._index[a], self._index[b]
            out[(a, b)] = [self.busbw(i, j, r) for r in range(len(self.rails))]
        return out

    @classmethod
    def scenario(cls, name: str, nodes: int, rails: int, seed: int, sigma: float = 0.03,
                 node_names: Sequence[str] | None = None, rail_names: Sequence[str] | None = None) -> Fabric:
        """A fabric with the scenario's faults at random places (seeded), at 30-80% of line rate.

        ``node_names``/``rail_names`` name the nodes and rails (a cluster's, from its definition and API
        server) instead of ``n00``, ``rail0``...; then ``nodes``/``rails`` are their counts.
        """
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
        fabric = cls(list(node_names or [f"n{i:0{len(str(nodes - 1))}d}" for i in range(nodes)]),
                     list(rail_names or [f"rail{r}" for r in range(rails)]), sigma=sigma, seed=seed)
        rng = random.Random(seed)
        kinds = {"none": [], "two_faults": [rng.choice(("slow_node", "slow_rail", "bad_link")) for _ in range(2)]}
        used: set[int] = set()
        for kind in kinds.get(name, [name]):
            fabric._inject(kind, rng, used)
        return fabric

    def _inject(self, kind: str, rng: random.Random, used: set[int]) -> None:
        n, nr = len(self.nodes), len(self.rails)
        level = rng.uniform(0.3, 0.8)
        free = [i for i in range(n) if i not in used]
        if kind == "slow_node":
            node = rng.choice(free)
            used.add(node)
            self.health.update({(node, r): level for r in range(nr)})
            self.truth.append(Fault("node", self.nodes[node]))
        elif kind == "slow_rail":
            node, rail = rng.choice(free), rng.randrange(nr)
            used.add(node)
            self.health[(node, rail)] = level
            name = self.nodes[node]  # a node's only rail slow is a slow node
            self.truth.append(Fault("node", name) if nr == 1 else Fault("rail", name, self.rails[rail]))
        else:
            a, b = self._link_pair(kind, rng, used)
            rail = rng.randrange(nr)
            used.update((a, b))
            self.link_health[(a, b, rail)] = level
            self.truth.append(Fault("link", self.nodes[a], self.rails[rail], self.nodes[b]))

    def _link_pair(self, kind: str, rng: random.Random, used: set[int]) -> tuple[int, int]:
        n = len(self.nodes)
        if kind == "bad_link_anywhere":
            a, b = rng.sample([i for i in range(n) if i not in used], 2)
            return min(a, b), max(a, b)
        # A pair of the first screening round, as the localisation (same seed) orders the nodes.
        order = list(range(n))
        random.Random(self.seed).shuffle(order)
        pairs = [(order[a], order[b]) for a, b in round_robin(n, 0)]
        a, b = rng.choice([(a, b) for a, b in pairs if a not in used and b not in used])
        return min(a, b), max(a, b)


@dataclass(frozen=True)
class Trial:
    """One seeded run: rounds used, false findings, missed faults."""

    rounds: int
    false_positives: int
    misses: int


def run_trial(scenario: str, nodes: int, rails: int, seed: int, config: LocaliseConfig | None = None) -> Trial:
    """Inject a scenario, localise, compare with the truth.

    Example:
        >>> run_trial("slow_node", nodes=16, rails=8, seed=3)
        Trial(rounds=7, false_positives=0, misses=0)
    """
    fabric = Fabric.scenario(scenario, nodes, rails, seed)
    cfg = config or LocaliseConfig(floor=FLOOR * fabric.line, seed=seed)
    result = localise(fabric.nodes, fabric.rails, fabric.measure, cfg)
    found, truth = set(result.faults), set(fabric.truth)
    return Trial(len(result.rounds), len(found - truth), len(truth - found))
