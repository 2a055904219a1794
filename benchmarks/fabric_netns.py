"""Localisation on the real namespace fabric: rounds and wall time per scenario (needs root and `ip netns`).

    sudo python benchmarks/fabric_netns.py --repeat 3

8 namespaces x 2 rails, each rail a bridge, every rail interface shaped by tc to 100 Mbit/s, gloo between
the workers (:class:`aiinfra.net.fabric.netns_plane.NetnsDataPlane`, as ``aiinfra net test --netns`` runs it).
Per scenario (healthy; one slow node, one slow rail, one slow link, each at 50% of rate) and seed it prints
the rounds measured, the wall time of the localisation (the workers are started once, before), and what was
named; the fault must be named exactly and a healthy run must name nothing. Exit 1 on any wrong verdict.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from aiinfra.net.fabric.localise import Fault, LocaliseConfig, localise, round_robin
from aiinfra.netns import fabric as netns


def _link(seed: int, nodes: int) -> tuple[int, int]:
    """A pair the first screening round of ``seed`` measures (a link is found only where the screen looks)."""
    order = list(range(nodes))
    random.Random(seed).shuffle(order)
    a, b = sorted((order[x], order[y]) for x, y in round_robin(nodes, 0)[:1])[0]
    return min(a, b), max(a, b)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=8)
    p.add_argument("--rails", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3, help="seeds per scenario")
    args = p.parse_args()
    why = netns.available()
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    from aiinfra.net.fabric.netns_plane import NetnsDataPlane

    netns.sweep()
    wrong = 0
    started = time.perf_counter()
    with NetnsDataPlane.start(nodes=args.nodes, rails=args.rails, rate_mbit=100) as plane:
        print(f"# {args.nodes} namespaces x {args.rails} rails at 100 Mbit/s; workers ready in "
              f"{time.perf_counter() - started:.1f} s; floor {plane.floor * 1000:.1f} MB/s")
        print(f"{'scenario':<10} {'seed':>4} {'rounds':>6} {'wall s':>7}  named")
        for scenario in ("healthy", "node", "rail", "link"):
            walls, rounds = [], []
            for seed in range(args.repeat):
                expected: list[Fault] = []
                if scenario == "node":
                    plane.slow_node(3)
                    expected = [Fault("node", "ns3")]
                elif scenario == "rail":
                    plane.slow_rail(5, 1)
                    expected = [Fault("rail", "ns5", "rail1")]
                elif scenario == "link":
                    a, b = _link(seed, args.nodes)
                    plane.slow_link(a, b, 0)
                    expected = [Fault("link", f"ns{a}", "rail0", f"ns{b}")]
                t0 = time.perf_counter()
                loc = localise(plane.names, plane.rails, plane.measure, LocaliseConfig(plane.floor, seed=seed))
                wall = time.perf_counter() - t0
                plane.heal()
                ok = loc.faults == expected
                wrong += not ok
                walls.append(wall)
                rounds.append(len(loc.rounds))
                named = ", ".join(f"{f.kind} {f.node}{':' + f.rail if f.rail else ''}{'-' + f.peer if f.peer else ''}"
                                  for f in loc.faults) or "nothing"
                print(f"{scenario:<10} {seed:>4} {len(loc.rounds):>6} {wall:>7.1f}  {named}{'' if ok else '  WRONG'}")
            print(f"{scenario:<10} {'mean':>4} {statistics.mean(rounds):>6.1f} {statistics.mean(walls):>7.1f}")
    netns.sweep()
    print(f"# {wrong} wrong verdict(s); total {time.perf_counter() - started:.0f} s")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
