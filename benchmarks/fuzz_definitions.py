"""Fuzz every command with generated bad input and count what breaks the rules.

Runs N mutated cluster definitions (mutations of clusters/*.yaml: byte flips, truncation,
tag injection, other encodings, alias bombs, deep nesting, type swaps, odd keys, control
characters) through ``aiinfra validate``, then M bad argument sets for every command
(validate, render, node check, nccl env, nccl log, bench, launch/status/submit/logs/down/sim,
net render, net render-operators, net apply/verify, net test/deploy/undeploy, monitor render,
monitor deploy, exporter: every group of ``tests/bad_input.COMMANDS``),
all in-process through ``aiinfra.cli.main(argv)`` with a seeded generator (tests/bad_input.py,
the same generators the CI test drives with hypothesis).

Prints, per group: cases, rule violations (exit code outside 0/1/2, a traceback or an
internal error, a definition message without ``file:line:``), the exit-code histogram and
the slowest case. Exit code 1 when anything broke the rules.

    python benchmarks/fuzz_definitions.py                 # 10,000 definitions, 300 per command, every CPU
    python benchmarks/fuzz_definitions.py --definitions 2000 --per-command 100 --seed 7 --jobs 1
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bad_input import (  # noqa: E402
    COMMANDS,
    RandomChooser,
    Workspace,
    check_outcome,
    definition_paths,
    make_workspace,
    mutated_definition,
    run_in_process,
)

_WS: Workspace | None = None


def _workspace() -> Workspace:
    """One workspace per process (generators point at its files; definition cases rewrite one file)."""
    global _WS
    if _WS is None:
        _WS = make_workspace()
    return _WS


def _make_case(group: str, chooser: RandomChooser):  # type: ignore[no-untyped-def,unused-ignore]
    """A function i -> (argv, definition paths whose messages need a line, label) for one group."""
    ws = _workspace()
    if group == DEFINITIONS:

        def definition_case(i: int) -> tuple[list[str], set[str], str]:
            base, data, applied = mutated_definition(chooser)
            ws.definition.write_bytes(data)
            return ["validate", str(ws.definition)], {str(ws.definition)}, f"#{i} {base} {'+'.join(applied)}"

        return definition_case
    generate = COMMANDS[group]

    def argument_case(i: int) -> tuple[list[str], set[str], str]:
        base, data, _ = mutated_definition(chooser)
        ws.definition.write_bytes(data if chooser.integer(0, 1) else (ROOT / "clusters" / base).read_bytes())
        argv = generate(chooser, ws)
        return argv, definition_paths(argv, ws), f"#{i} aiinfra {' '.join(argv)[:200]}"

    return argument_case


def _run_chunk(task: tuple[str, int, int, int]) -> tuple[collections.Counter[int], list[str], tuple[float, str]]:
    """Cases start..stop of one group, with a generator seeded by (seed, group, start): reproducible
    whatever the number of processes that share the work."""
    group, start, stop, seed = task
    chooser = RandomChooser(seed * 1_000_003 + _GROUPS.index(group) * 10_007 + start)
    make_case = _make_case(group, chooser)
    codes: collections.Counter[int] = collections.Counter()
    broken: list[str] = []
    slowest = (0.0, "")
    for i in range(start, stop):
        argv, definitions, label = make_case(i)
        t0 = time.monotonic()
        code, out, err = run_in_process(argv)
        took = time.monotonic() - t0
        codes[code] += 1
        if took > slowest[0]:
            slowest = (took, label)
        problem = check_outcome(argv, code, out, err, definitions)
        if problem:
            broken.append(f"{label}: {problem}: {err.strip()[:300]!r}")
    return codes, broken, slowest


def run_group(group: str, cases: int, seed: int, pool: Any, chunk: int, show: int) -> bool:
    """Run one group's cases (in ``pool`` when given) and print its line; True when nothing broke the rules."""
    started = time.monotonic()
    tasks = [(group, lo, min(lo + chunk, cases), seed) for lo in range(0, cases, chunk)]
    parts = pool.imap_unordered(_run_chunk, tasks) if pool else map(_run_chunk, tasks)
    codes: collections.Counter[int] = collections.Counter()
    broken: list[str] = []
    slowest = (0.0, "")
    step = max(1, len(tasks) // 10)
    for done, (part_codes, part_broken, part_slowest) in enumerate(parts, 1):
        codes.update(part_codes)
        broken += part_broken
        slowest = max(slowest, part_slowest)
        if done % step == 0 and done < len(tasks):  # a long run shows where it stands
            print(f"  ... {group}: {sum(codes.values())} of {cases} cases, broken {len(broken)}, "
                  f"{time.monotonic() - started:.0f} s", flush=True)
    histogram = " ".join(f"exit {k}: {v}" for k, v in sorted(codes.items()))
    print(f"{group:<36} cases {cases:>6}  broken {len(broken):>3}  {histogram}  "
          f"total {time.monotonic() - started:.1f}s  slowest {slowest[0] * 1000:.0f} ms ({slowest[1][:90]})",
          flush=True)
    for line in broken[:show]:
        print(f"    {line}")
    return not broken


DEFINITIONS = "validate (mutated definitions)"
_GROUPS = [DEFINITIONS, *COMMANDS]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--definitions", type=int, default=10_000)
    parser.add_argument("--per-command", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="processes sharing the cases (default: every CPU); the cases do not depend on it")
    parser.add_argument("--show", type=int, default=5, help="broken cases printed per group")
    args = parser.parse_args()
    started = time.monotonic()
    try:  # once here, not in every worker: the bench cases import it and it takes seconds
        import torch  # noqa: F401
    except ImportError:
        pass
    # fork: the workers inherit the imported CLI; each makes its own workspace on first use.
    pool = multiprocessing.get_context("fork").Pool(args.jobs) if args.jobs > 1 else None
    try:
        ok = True
        for command in COMMANDS:  # every command's bad arguments first: the short groups
            ok &= run_group(command, args.per_command, args.seed, pool, 10, args.show)
        ok &= run_group(DEFINITIONS, args.definitions, args.seed, pool, 50, args.show)
    finally:
        if pool:
            pool.close()
            pool.join()
    print(f"{args.jobs} process(es), {time.monotonic() - started:.0f} s in all")
    print("OK: no tracebacks, every exit code 0/1/2, every definition message located" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
