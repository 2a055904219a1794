"""Fuzz every command with generated bad input and count what breaks the rules.

Runs N mutated cluster definitions (mutations of clusters/*.yaml: byte flips, truncation,
tag injection, other encodings, alias bombs, deep nesting, type swaps, odd keys, control
characters) through ``aiinfra validate``, then M bad argument sets for every command
(validate, render, node check, nccl env, nccl log, bench, launch/status/submit/logs/down/sim),
all in-process through ``aiinfra.cli.main(argv)`` with a seeded generator (tests/bad_input.py,
the same generators the CI test drives with hypothesis).

Prints, per group: cases, rule violations (exit code outside 0/1/2, a traceback or an
internal error, a definition message without ``file:line:``), the exit-code histogram and
the slowest case. Exit code 1 when anything broke the rules.

    python benchmarks/fuzz_definitions.py                 # 10,000 definitions, 300 per command
    python benchmarks/fuzz_definitions.py --definitions 2000 --per-command 100 --seed 7
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bad_input import (  # noqa: E402
    COMMANDS,
    RandomChooser,
    check_outcome,
    definition_paths,
    make_workspace,
    mutated_definition,
    run_in_process,
)


def run_group(name: str, cases: int, make_case, show: int) -> bool:  # type: ignore[no-untyped-def]
    codes: collections.Counter[int] = collections.Counter()
    broken: list[str] = []
    slowest = (0.0, "")
    started = time.monotonic()
    for i in range(cases):
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
    histogram = " ".join(f"exit {k}: {v}" for k, v in sorted(codes.items()))
    print(f"{name:<36} cases {cases:>6}  broken {len(broken):>3}  {histogram}  "
          f"total {time.monotonic() - started:.1f}s  slowest {slowest[0] * 1000:.0f} ms ({slowest[1][:90]})")
    for line in broken[:show]:
        print(f"    {line}")
    return not broken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--definitions", type=int, default=10_000)
    parser.add_argument("--per-command", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--show", type=int, default=5, help="broken cases printed per group")
    args = parser.parse_args()
    ws = make_workspace()
    chooser = RandomChooser(args.seed)

    def definition_case(i: int) -> tuple[list[str], set[str], str]:
        base, data, applied = mutated_definition(chooser)
        ws.definition.write_bytes(data)
        return ["validate", str(ws.definition)], {str(ws.definition)}, f"#{i} {base} {'+'.join(applied)}"

    ok = run_group("validate (mutated definitions)", args.definitions, definition_case, args.show)
    for command, generate in COMMANDS.items():

        def argument_case(i: int, generate=generate) -> tuple[list[str], set[str], str]:  # type: ignore[no-untyped-def]
            base, data, _ = mutated_definition(chooser)
            ws.definition.write_bytes(data if chooser.integer(0, 1) else (ROOT / "clusters" / base).read_bytes())
            argv = generate(chooser, ws)
            return argv, definition_paths(argv, ws), f"#{i} aiinfra {' '.join(argv)[:200]}"

        ok &= run_group(command, args.per_command, argument_case, args.show)
    print("OK: no tracebacks, every exit code 0/1/2, every definition message located" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
