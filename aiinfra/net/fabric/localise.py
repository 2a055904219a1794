"""Find the slow node, the slow rail on one node, or the bad link, by pairing nodes round after round.

A *round* measures a set of disjoint node pairs, every pair on every rail at
once (the bundled benchmark's rail mode between two nodes). The first rounds
screen everyone (a round-robin matching, so no pair repeats); from then on
only suspects are measured: each suspect node beside a node that has read
high on every rail (known good), and each suspected link by its own two
nodes once both ends are cleared. Readings are weighed as sequential tests
(:mod:`aiinfra.net.fabric.evidence`), so noise that makes a healthy pair read
low once is re-measured instead of reported, and a verdict needs a number of
low readings, against distinct known-good partners, that grows with
log(nodes x rails). Healthy runs stop after the screen; a fault is named
within ``2*log2(N)+2`` rounds (``benchmarks/fabric_localisation.py``).

A link fault slows one pair only, so it is seen only if that pair is measured:
a screen of ``k`` rounds measures ``k/(N-1)`` of all pairs. ``screen_rounds=N-1``
(``screen="all"``) covers every pair, as SuperBench's pair-wise pattern does.

Example:
    >>> healthy = lambda pairs: {p: [24.0, 24.0] for p in pairs}
    >>> result = localise(["n0", "n1", "n2", "n3"], ["rail0", "rail1"], healthy, LocaliseConfig(floor=22.5))
    >>> result.faults, len(result.rounds)
    ([], 2)
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from aiinfra.errors import UsageError
from aiinfra.net.fabric.evidence import BAD, Evidence

Pair = tuple[str, str]
Measure = Callable[[Sequence[Pair]], Mapping[Pair, Sequence[float]]]
"""Measure a round: for each pair, busbw in GB/s per rail, in the order of the rails given."""


@dataclass(frozen=True)
class LocaliseConfig:
    """Thresholds and budgets of one localisation."""

    floor: float
    """busbw (GB/s) per rail below which a pair reads low: 90% of the line rate (HDR 200 Gb/s: 22.5)."""
    screen_rounds: int = 2
    """Rounds in which everyone is paired (round-robin); N-1 measures every pair once."""
    max_rounds: int | None = None
    """Stop here; None: 2*ceil(log2 N)+2, or the screen plus 8 when the screen is longer."""
    false_low: float = 0.05
    """Chance a healthy pair reads low (noise); 3% noise around 96% of line gives ~2%."""
    fault_low: float = 0.999
    """Chance a slow pair reads low."""
    fp_target: float = 1e-4
    """Chance of any false finding in the whole run."""
    seed: int = 0


@dataclass(frozen=True)
class Fault:
    """A finding: a slow node (all rails), one slow rail of a node, or a slow link between two nodes."""

    kind: Literal["node", "rail", "link"]
    node: str
    rail: str | None = None
    peer: str | None = None

    def __str__(self) -> str:
        if self.kind == "node":
            return f"node {self.node}"
        if self.kind == "rail":
            return f"rail {self.rail} of node {self.node}"
        return f"link {self.node}-{self.peer} on rail {self.rail}"


@dataclass
class Round:
    """One measurement round: the pairs, why each was measured, and the busbw per rail."""

    index: int
    pairs: list[Pair]
    purpose: list[str]
    """'screen', 'suspect' (a suspect beside a known-good node) or 'link' (the suspected pair again)."""
    busbw: list[list[float]] = field(default_factory=list)


@dataclass
class Localisation:
    """The faults found, every round measured, and what the budget left undecided."""

    nodes: list[str]
    rails: list[str]
    floor: float
    faults: list[Fault]
    rounds: list[Round]
    unresolved: list[str]
    suspects: list[str] = field(default_factory=list)
    """Nodes with a rail still undecided when the budget ran out: neither found bad nor cleared."""


def round_budget(n: int) -> int:
    """The target number of rounds for ``n`` nodes: 2*ceil(log2 n)+2.

    Example:
        >>> round_budget(16), round_budget(1024)
        (10, 22)
    """
    return 2 * math.ceil(math.log2(max(n, 2))) + 2


def round_robin(n: int, k: int) -> list[tuple[int, int]]:
    """Round ``k`` of the circle method: n/2 disjoint pairs; rounds 0..n-2 together hold every pair once.

    Example:
        >>> round_robin(4, 0), round_robin(4, 1)
        ([(0, 3), (1, 2)], [(0, 2), (1, 3)])
    """
    ring = list(range(n)) + ([-1] if n % 2 else [])
    m = len(ring)
    k %= m - 1
    order = [ring[0], *ring[1:][-k:], *ring[1:][:-k]] if k else ring
    pairs = [(order[i], order[m - 1 - i]) for i in range(m // 2)]
    return [(min(a, b), max(a, b)) for a, b in pairs if a >= 0 and b >= 0]


def localise(nodes: Sequence[str], rails: Sequence[str], measure: Measure, config: LocaliseConfig) -> Localisation:
    """Pair, measure, re-pair suspects with known-good nodes, until every case is decided or the budget ends.

    Example:
        >>> slow = lambda pairs: {p: [11.0 if "n2" in p else 24.0] for p in pairs}
        >>> [str(f) for f in localise([f"n{i}" for i in range(8)], ["r0"], slow, LocaliseConfig(22.5)).faults]
        ['node n2']
    """
    n = len(nodes)
    if n < 2 or len(set(nodes)) != n:
        raise UsageError(f"localisation needs 2 or more distinct nodes, got {list(nodes)}")
    if not rails:
        raise UsageError("localisation needs at least one rail")
    screen = min(config.screen_rounds, n - 1)
    budget = config.max_rounds or max(round_budget(n), screen + 8)
    rng = random.Random(config.seed)
    order = list(range(n))
    rng.shuffle(order)  # which node sits where in the round-robin
    ev = Evidence(n, len(rails), config.false_low, config.fault_low, config.fp_target)
    seen: set[tuple[int, int]] = set()
    rounds: list[Round] = []
    for t in range(budget):
        planned = _plan(t, screen, ev, order, seen, rng)
        if not planned:
            break
        pairs = [(nodes[a], nodes[b]) for a, b, _ in planned]
        readings = measure(pairs)
        record = Round(t + 1, pairs, [why for _, _, why in planned])
        for (a, b, _), pair in zip(planned, pairs, strict=True):
            values = [float(v) for v in readings[pair]]
            if len(values) != len(rails):
                raise UsageError(f"pair {pair}: {len(values)} readings for {len(rails)} rails")
            record.busbw.append(values)
            seen.add((min(a, b), max(a, b)))
            for r, v in enumerate(values):
                ev.record(a, b, r, v < config.floor, screening=t < screen)
        ev.settle()
        rounds.append(record)
        swept = screen < n - 1 or len(seen) == n * (n - 1) // 2
        if t + 1 >= screen and swept and not ev.undecided():
            break
    return Localisation(list(nodes), list(rails), config.floor, _faults(ev, nodes, rails), rounds,
                        _unresolved(ev, nodes, rails), [nodes[i] for i in range(n) if ev.open_rails(i)])


def _plan(t: int, screen: int, ev: Evidence, order: list[int], seen: set[tuple[int, int]],
          rng: random.Random) -> list[tuple[int, int, str]]:
    """The pairs of round ``t``: suspects beside known-good nodes, suspected links, then the screen."""
    n = len(order)
    busy: set[int] = set()
    out: list[tuple[int, int, str]] = []
    if t > 0:
        good = [i for i in range(n) if ev.good(i)]
        rng.shuffle(good)
        links = ev.link_suspects()
        for s in (i for i in range(n) if ev.open_rails(i) and not ev.good(i)):
            # Beside the other end of one of its suspected links when that end is good: one reading
            # re-tests the link on its rail and the suspect on the others.
            ends = [b if a == s else a for a, b, r in links if s in (a, b) and ev.trusted(a, r) and ev.trusted(b, r)]
            partner = next((e for e in ends if e not in busy and ev.good(e)), None)
            partner = partner if partner is not None else _partner(s, good, busy, seen)
            if partner is not None:
                busy.update((s, partner))
                out.append((s, partner, "link" if partner in ends else "suspect"))
        for a, b, rail in links:
            if a not in busy and b not in busy and ev.trusted(a, rail) and ev.trusted(b, rail):
                busy.update((a, b))
                out.append((a, b, "link"))
    every_pair = screen >= n - 1
    if t < screen:
        for a, b in round_robin(n, t):
            x, y = order[a], order[b]
            if x not in busy and y not in busy:
                busy.update((x, y))
                out.append((x, y, "screen"))
    if t < screen or (every_pair and len(seen) < n * (n - 1) // 2):
        out.extend(_pair_idle(n, busy, seen, ev, fresh_only=t >= screen))
    return out


def _pair_idle(n: int, busy: set[int], seen: set[tuple[int, int]], ev: Evidence,
               fresh_only: bool) -> list[tuple[int, int, str]]:
    """Pair the nodes left free, pairs never measured first (a pair skipped for a suspect's test)."""
    idle = [i for i in range(n) if i not in busy and BAD not in ev.state[i]]
    out = []
    while len(idle) >= 2:
        a = idle.pop(0)
        fresh = [b for b in idle if (min(a, b), max(a, b)) not in seen]
        if not fresh and fresh_only:
            continue
        b = (fresh or idle)[0]
        idle.remove(b)
        out.append((a, b, "screen"))
    return out


def _partner(s: int, good: list[int], busy: set[int], seen: set[tuple[int, int]]) -> int | None:
    """A known-good node not busy this round, preferably one never paired with ``s``."""
    fresh = [g for g in good if g != s and g not in busy and (min(s, g), max(s, g)) not in seen]
    if fresh:
        return fresh[0]
    again = [g for g in good if g != s and g not in busy]
    return again[0] if again else None


def _faults(ev: Evidence, nodes: Sequence[str], rails: Sequence[str]) -> list[Fault]:
    out: list[Fault] = []
    for i, states in enumerate(ev.state):
        bad = [r for r, s in enumerate(states) if s == BAD]
        if bad and len(bad) == len(rails):
            out.append(Fault("node", nodes[i]))
        else:
            out.extend(Fault("rail", nodes[i], rails[r]) for r in bad)
    for (a, b, r), link in sorted(ev.links.items()):
        if link.state == BAD and ev.state[a][r] != BAD and ev.state[b][r] != BAD:
            out.append(Fault("link", nodes[a], rails[r], nodes[b]))
    return out


def _unresolved(ev: Evidence, nodes: Sequence[str], rails: Sequence[str]) -> list[str]:
    out = [f"rail {rails[r]} of node {nodes[i]}" for i in range(len(nodes)) for r in ev.open_rails(i)]
    out += [f"link {nodes[a]}-{nodes[b]} on rail {rails[r]}" for a, b, r in ev.link_suspects()]
    return out
