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
    python benchmarks/fabric_localisation.py --nodes 1024 --jobs 32    # trials spread over 32 processes
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np

from aiinfra.net.fabric.localise import Fault, round_budget
from aiinfra.net.fabric.simulate import FLOOR, SCENARIOS, Fabric, run_trial


def _one_trial(scenario: str, n: int, rails: int, seed: int) -> tuple[int, bool, bool, float]:
    started = time.process_time()
    t = run_trial(scenario, n, rails, seed)
    return t.rounds, t.false_positives > 0, t.misses > 0, time.process_time() - started


def ours(scenario: str, n: int, rails: int, trials: int, pool: ProcessPoolExecutor | None) -> str:
    one = partial(_one_trial, scenario, n, rails)
    results = list(pool.map(one, range(trials), chunksize=4) if pool else map(one, range(trials)))
    rounds = [r for r, _, _, _ in results]
    fp = sum(f for _, f, _, _ in results)
    miss = sum(m for _, _, m, _ in results)
    per_run = sum(c for _, _, _, c in results) / trials * 1000  # CPU per trial, whatever the parallelism
    return f"{np.mean(rounds):5.1f} {max(rounds):3d}/{round_budget(n):<3d} {fp:4d} {miss:4d} {per_run:7.1f}ms"


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


def _baseline_trial(kind: str, scenario: str, n: int, rails: int, seed: int) -> tuple[bool, bool]:
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
    return bool(found - truth), bool(truth - found)


def baseline(kind: str, scenario: str, n: int, rails: int, trials: int, pool: ProcessPoolExecutor | None) -> str:
    one = partial(_baseline_trial, kind, scenario, n, rails)
    results = list(pool.map(one, range(trials)) if pool else map(one, range(trials)))
    return f"{sum(f for f, _ in results):4d} {sum(m for _, m in results):4d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[16, 128, 1024])
    parser.add_argument("--rails", type=int, default=8)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument(
        "--baseline-trials",
        type=int,
        default=100,
        help="trials of each baseline (all pairs at N=1024 is 4M readings a trial)",
    )
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--jobs", type=int, default=1, help="processes for our trials (default 1)")
    args = parser.parse_args()
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 else None
    print(f"# {args.jobs} processes on {os.cpu_count()} CPUs; time is CPU per trial")
    print(f"# {args.rails} rails, noise sigma 3%, healthy 96% of line, faults 30-80%, floor {FLOOR:.0%} of line")
    print("# ours: rounds mean, max/budget (2*log2 N+2), trials with a false finding, with a miss, CPU per run")
    print(f"# baselines: trials with a false finding, with a miss ({args.baseline_trials} trials each)")
    head = f"{'N':>5} {'scenario':<18} | {'ours: rounds  max':>17} {'FP':>4} {'miss':>4} {'time':>9}"
    print(head + f" | all pairs N-1 rnds {'FP':>4} {'miss':>4} | random 15 rnds {'FP':>4} {'miss':>4}")
    for n in args.nodes:
        for scenario in args.scenarios:
            started = time.perf_counter()
            row = ours(scenario, n, args.rails, args.trials, pool)
            bt = min(args.trials, args.baseline_trials)
            allp = baseline("all-pairs", scenario, n, args.rails, bt, pool)
            rand = baseline("random", scenario, n, args.rails, bt, pool)
            print(
                f"{n:>5} {scenario:<18} | {row} | {n - 1:>13} rnds {allp} | {15:>10} rnds {rand}"
                f" | {time.perf_counter() - started:6.0f}s wall",
                flush=True,
            )


if __name__ == "__main__":
    main()
