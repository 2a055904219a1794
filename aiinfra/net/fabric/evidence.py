"""What the pair readings so far say about each node's rails and each link: sequential tests.

A pair reading on one rail is *low* when its busbw is below the floor (90% of
line rate). A low reading says one of three things is slow: either node's
rail or the link between the two; a high one clears all three, since a slow
end caps what the pair can carry. Each hypothesis (node ``n`` slow on rail
``r``; link ``a-b`` slow on ``r``) keeps a log-likelihood ratio, as in Wald's
sequential probability ratio test: a low reading against a *trusted* partner
adds ``log(p1/p0)``, a high one adds ``log((1-p1)/(1-p0))``, where ``p0`` is
the chance a healthy pair reads low (noise) and ``p1`` the chance a slow one
does. A hypothesis is convicted at ``log(1/alpha)``, alpha being the whole
run's false-positive budget shared out over every hypothesis tested.

Example:
    >>> ev = Evidence(nodes=4, rails=1, false_low=0.05, fault_low=0.999, fp_target=1e-4)
    >>> ev.lows_to_convict
    4
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

UNKNOWN, TRUSTED, SUSPECT, BAD = 0, 1, 2, 3
"""States of one node's rail. TRUSTED: read high with someone; BAD: convicted."""


@dataclass
class LinkState:
    """The case against the link between two nodes on one rail."""

    score: float = 0.0
    state: int = SUSPECT


@dataclass
class Evidence:
    """Scores and states of every (node, rail) and every suspected link; node and rail are indices."""

    nodes: int
    rails: int
    false_low: float
    fault_low: float
    fp_target: float
    score: list[list[float]] = field(init=False)
    state: list[list[int]] = field(init=False)
    links: dict[tuple[int, int, int], LinkState] = field(default_factory=dict)
    unexplained: list[tuple[int, int, int]] = field(default_factory=list)
    """Low readings not yet put down to a node or a link: settled once both ends are judged."""

    def __post_init__(self) -> None:
        self.score = [[0.0] * self.rails for _ in range(self.nodes)]
        self.state = [[UNKNOWN] * self.rails for _ in range(self.nodes)]
        self.low_llr = math.log(self.fault_low / self.false_low)
        self.high_llr = math.log((1.0 - self.fault_low) / (1.0 - self.false_low))
        # Node rails plus as many links again: the hypotheses that share the false-positive budget.
        alpha = self.fp_target / (2 * self.nodes * self.rails)
        self.convict = math.log((1.0 - self.fp_target) / alpha)

    @property
    def lows_to_convict(self) -> int:
        """Low readings against trusted partners that convict a node's rail, with no high between."""
        return math.ceil(self.convict / self.low_llr)

    def trusted(self, node: int, rail: int) -> bool:
        return self.state[node][rail] == TRUSTED

    def good(self, node: int) -> bool:
        """Every rail of the node has read high and none is suspected: a partner for suspects."""
        return all(s == TRUSTED for s in self.state[node])

    def open_rails(self, node: int) -> list[int]:
        """Rails of the node still to be judged."""
        return [r for r, s in enumerate(self.state[node]) if s in (UNKNOWN, SUSPECT)]

    def link_key(self, a: int, b: int, rail: int) -> tuple[int, int, int]:
        return (min(a, b), max(a, b), rail)

    def link_suspects(self) -> list[tuple[int, int, int]]:
        """Suspected links, the strongest case first (it is nearest a verdict)."""
        return sorted((k for k, v in self.links.items() if v.state == SUSPECT), key=lambda k: -self.links[k].score)

    def record(self, a: int, b: int, rail: int, low: bool, screening: bool = False) -> None:
        """Fold one reading of pair ``a-b`` on ``rail`` in (trust as it stood before this round)."""
        key = self.link_key(a, b, rail)
        link = self.links.get(key)
        retest = link is not None and link.state == SUSPECT
        if link is not None and link.state == BAD:
            return  # convicted: nothing more to learn from this pair on this rail
        if not low:
            for n in (a, b):
                self._node_high(n, rail)
            if retest and link is not None:
                link.score += self.high_llr
                link.state = TRUSTED if link.score < 0 else SUSPECT
            return
        if retest and link is not None:
            link.score += self.low_llr
            if link.score >= self.convict:
                link.state = BAD
            return
        if self.trusted(a, rail) and self.trusted(b, rail):
            # Both ends have read high elsewhere: most likely the link. An end still under test (while
            # screening two good ends: both) must earn trust again with other partners, so that a
            # slow rail which once read high by chance is not blamed on its link.
            self.links[key] = LinkState(self.low_llr)
            under_test = [n for n in (a, b) if not self.good(n)]
            for n in under_test or ([a, b] if screening else []):
                self.score[n][rail] = max(self.score[n][rail], 0.0)
                self.state[n][rail] = SUSPECT
            return
        for n, partner in ((a, b), (b, a)):
            if self.state[n][rail] in (BAD, TRUSTED):
                continue  # a trusted end read low with an untrusted partner: the partner is the suspect
            if self.trusted(partner, rail):
                self.score[n][rail] += self.low_llr
            self.state[n][rail] = BAD if self.score[n][rail] >= self.convict else SUSPECT
        self.unexplained.append(key)

    def _node_high(self, n: int, rail: int) -> None:
        if self.state[n][rail] == BAD:
            return
        self.score[n][rail] += self.high_llr
        if self.score[n][rail] < 0:
            self.state[n][rail] = TRUSTED

    def settle(self) -> None:
        """After a round: a low whose ends were both cleared since becomes a case against their link."""
        waiting = []
        for key in self.unexplained:
            a, b, rail = key
            if BAD in (self.state[a][rail], self.state[b][rail]):
                continue
            if self.trusted(a, rail) and self.trusted(b, rail):
                link = self.links.setdefault(key, LinkState(0.0))
                if link.state == SUSPECT:
                    link.score += self.low_llr
                    if link.score >= self.convict:
                        link.state = BAD
                continue
            waiting.append(key)
        self.unexplained = waiting

    def undecided(self) -> bool:
        """True while any node rail or link is still suspected."""
        return bool(self.link_suspects()) or any(s == SUSPECT for row in self.state for s in row)
