"""Localisation by pairing against the all-pairs and random-rounds baselines, on a simulated fabric.

For each node count and scenario: seeded trials of :func:`aiinfra.net.fabric.simulate.run_trial`
(rounds used, trials with a false finding, trials with a missed fault, CPU time per run), beside

- all pairs (SuperBench's pair-wise pattern): N-1 rounds, each pair once per rail;
- random rounds (Imbue's practice): 15 random matchings;

both judged the usual way, a reading below 90% of line rate is a fail, a node rail failing more than
half of its readings is slow, and a failing pair whose ends are not slow is a bad link.
Noise: multiplicative Gaussian, sigma 3%; healthy 96% of line, faults 30-80% of line.

Usage:
    python benchmarks/fabric_localisation.py                 # N = 16, 128, 1024; 1000 trials
    python benchmarks/fabric_localisation.py --nodes 16 --trials 200
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from aiinfra.net.fabric.localise import Fault, round_budget
from aiinfra.net.fabric.simulate import FLOOR, SCENARIOS, Fabric, run_trial


def ours(scenario: str, n: int, rails: int, trials: int) -> str:
    rounds, fp, miss = [], 0, 0
    started = time.perf_counter()
    for seed in range(trials):
        t = run_trial(scenario, n, rails, seed)
        rounds.append(t.rounds)
        fp += t.false_positives > 0
        miss += t.misses > 0
    per_run = (time.perf_counter() - started) / trials * 1000
    return (f"{np.mean(rounds):5.1f} {max(rounds):3d}/{round_budget(n):<3d} {fp:4d} {miss:4d} "
            f"{per_run:7.1f}ms")


def _readings(fabric: Fabric, a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """busbw of pairs (a[k], b[k]) on every rail, the same model as Fabric.busbw, vectorised."""
    n, nr = len(fabric.nodes), len(fabric.rails)
    health = np.full((n, nr), 0.96)
    for (i, r), h in fabric.health.items():
        health[i, r] = h
    h = np.minimum(health[a], health[b])
    for (i, j, r), lh in fabric.link_health.items():
        hit = ((a == i) & (b == j)) | ((a == j) & (b == i))
        h[hit, r] = np.minimum(h[hit, r], lh)
    return fabric.line * h * (1.0 + fabric.sigma * rng.standard_normal(h.shape))


def _judge(fabric: Fabric, a: np.ndarray, b: np.ndarray, low: np.ndarray) -> set[Fault]:
    n, nr = len(fabric.nodes), len(fabric.rails)
    lows, total = np.zeros((n, nr)), np.zeros((n, nr))
    for ends in (a, b):
        np.add.at(lows, ends, low)
        np.add.at(total, ends, 1)
    slow = lows > np.maximum(total, 1) / 2
    out: set[Fault] = set()
    for i in range(n):
        bad = np.flatnonzero(slow[i])
        if len(bad) == nr:
            out.add(Fault("node", fabric.nodes[i]))
        else:
            out.update(Fault("rail", fabric.nodes[i], fabric.rails[r]) for r in bad)
    k, r = np.nonzero(low & ~slow[a] & ~slow[b])
    for kk, rr in zip(k, r, strict=True):
        i, j = sorted((int(a[kk]), int(b[kk])))
        out.add(Fault("link", fabric.nodes[i], fabric.rails[rr], fabric.nodes[j]))
    return out


def baseline(kind: str, scenario: str, n: int, rails: int, trials: int) -> str:
    fp = miss = 0
    for seed in range(trials):
        fabric = Fabric.scenario(scenario, n, rails, seed)
        rng = np.random.default_rng(seed)
        if kind == "all-pairs":
            a, b = np.triu_indices(n, 1)
        else:
            perms = [rng.permutation(n) for _ in range(15)]
            a = np.concatenate([p[0 : n - n % 2 : 2] for p in perms])
            b = np.concatenate([p[1 : n - n % 2 : 2] for p in perms])
        low = _readings(fabric, a, b, rng) < FLOOR * fabric.line
        found, truth = _judge(fabric, a, b, low), set(fabric.truth)
        fp += bool(found - truth)
        miss += bool(truth - found)
    return f"{fp:4d} {miss:4d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[16, 128, 1024])
    parser.add_argument("--rails", type=int, default=8)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--baseline-trials", type=int, default=100,
                        help="trials of each baseline (all pairs at N=1024 is 4M readings a trial)")
    args = parser.parse_args()
    print(f"# {args.rails} rails, noise sigma 3%, healthy 96% of line, faults 30-80%, floor {FLOOR:.0%} of line")
    print("# ours: rounds mean, max/budget (2*log2 N+2), trials with a false finding, with a miss, CPU per run")
    print(f"# baselines: trials with a false finding, with a miss ({args.baseline_trials} trials each)")
    head = f"{'N':>5} {'scenario':<18} | {'ours: rounds  max':>17} {'FP':>4} {'miss':>4} {'time':>9}"
    print(head + f" | all pairs N-1 rnds {'FP':>4} {'miss':>4} | random 15 rnds {'FP':>4} {'miss':>4}")
    for n in args.nodes:
        for scenario in SCENARIOS:
            row = ours(scenario, n, args.rails, args.trials)
            bt = min(args.trials, args.baseline_trials)
            allp = baseline("all-pairs", scenario, n, args.rails, bt)
            rand = baseline("random", scenario, n, args.rails, bt)
            print(f"{n:>5} {scenario:<18} | {row} | {n - 1:>13} rnds {allp} | {15:>10} rnds {rand}", flush=True)


if __name__ == "__main__":
    main()
