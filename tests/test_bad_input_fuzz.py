"""Generated bad input for every command: exit 0/1/2, never a traceback, definitions located by line.

Hypothesis drives the generators of tests/bad_input.py (mutated clusters/*.yaml, damaged
sysfs trees, broken NVML recordings and NCCL logs, bad arguments), derandomized so CI
runs the same few thousand cases every time; a failure shrinks to a small example.
Every command group has a generator, net, monitor and exporter included.
Most cases run in-process through ``aiinfra.cli.main(argv)``; a handful go through the
real ``python -m aiinfra`` process. benchmarks/fuzz_definitions.py runs 10,000+.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bad_input import (
    COMMANDS,
    REFUSED,
    ROOT,
    RandomChooser,
    Workspace,
    check_outcome,
    definition_paths,
    make_workspace,
    mutated_definition,
    run_in_process,
)

from aiinfra.cli import main

T = TypeVar("T")


def fuzz_settings(examples: int) -> settings:
    return settings(
        derandomize=True,
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


class DrawChooser:
    """The generators' choices drawn from hypothesis, so failing cases shrink."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(st.integers(lo, hi))

    def choice(self, options: Sequence[T]) -> T:
        return self.data.draw(st.sampled_from(list(options)))


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return make_workspace(tmp_path_factory.mktemp("fuzz"))


@fuzz_settings(1000)
@given(data=st.data())
def test_mutated_definitions_validate(ws: Workspace, data: st.DataObject) -> None:
    name, content, applied = mutated_definition(DrawChooser(data))
    ws.definition.write_bytes(content)
    argv = ["validate", str(ws.definition)]
    started = time.monotonic()
    code, out, err = run_in_process(argv)
    problem = check_outcome(argv, code, out, err, {str(ws.definition)})
    assert problem is None, f"{name} after {applied}: {problem}\n{err[:2000]}"
    assert code in (0, 2), err
    # Bounded work: an alias bomb or a 20,000-deep nest is refused, not expanded (generous: shared CI cores).
    assert time.monotonic() - started < 10, f"{name} after {applied} took {time.monotonic() - started:.1f}s"


FIRST_GROUPS = {"validate", "render", "node check", "nccl env", "nccl log", "bench",
                "launch/status/submit/logs/down/sim"}
"""150 cases each; the net, monitor and exporter groups get 50 each (CI time: about 350 more cases in all)."""


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_bad_arguments_for_every_command(ws: Workspace, command: str) -> None:
    generate = COMMANDS[command]

    @fuzz_settings(150 if command in FIRST_GROUPS else 50)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        chooser = DrawChooser(data)
        if data.draw(st.booleans()):
            ws.definition.write_bytes(mutated_definition(chooser)[1])
        else:
            ws.definition.write_bytes((ROOT / "clusters" / "a800-ib.yaml").read_bytes())
        argv = generate(chooser, ws)
        code, out, err = run_in_process(argv)
        problem = check_outcome(argv, code, out, err, definition_paths(argv, ws))
        assert problem is None, f"aiinfra {argv!r}: {problem}\n{err[:2000]}"
        if command in REFUSED:
            assert code == 2, f"aiinfra {argv!r} should be refused as bad input: {err[:500]}"

    case()


def test_real_console_script_on_a_sample(ws: Workspace) -> None:
    """At most 50 cases through `python -m aiinfra` (here 11): what a user's shell sees."""
    chooser = RandomChooser(2026)
    cases = []
    for i in range(5):
        path = ws.root / f"sub{i}.yaml"
        path.write_bytes(mutated_definition(chooser)[1])
        cases.append(["validate", str(path)])
    for command in ("render", "nccl log", "bench", "net render", "monitor render", "exporter"):
        cases.append(COMMANDS[command](chooser, ws))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("AIINFRA_DEBUG", None)
    for argv in cases[:50]:
        proc = subprocess.run([sys.executable, "-m", "aiinfra", *argv], capture_output=True, text=True, env=env,
                              cwd=ROOT, timeout=300)
        problem = check_outcome(argv, proc.returncode, proc.stdout, proc.stderr, definition_paths(argv, ws) |
                                {a for a in argv if a.endswith(".yaml") and "sub" in a})
        assert problem is None, f"aiinfra {argv!r}: {problem}\n{proc.stderr[:2000]}"


def test_bench_without_torch_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "torch" or m.startswith(("torch.", "aiinfra.bench."))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    code, _out, err = run_in_process(["bench", "all_reduce", "--local", "--sizes", "1K"])
    assert code == 2 and "Traceback" not in err
    assert "pip install 'aiinfra[train]'" in err


def test_internal_error_is_one_line_exit_70_and_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    import aiinfra.cli.validate as validate

    def broken(args: object) -> int:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(validate, "run", broken)
    monkeypatch.delenv("AIINFRA_DEBUG", raising=False)
    code, _, err = run_in_process(["validate", "x.yaml"])
    assert code == 70
    assert err == "aiinfra: internal error: RuntimeError: boom second line (set AIINFRA_DEBUG=1 for the traceback)\n"
    monkeypatch.setenv("AIINFRA_DEBUG", "1")
    code, _out, err = run_in_process(["validate", "x.yaml"])
    assert code == 70 and "Traceback (most recent call last)" in err and 'raise RuntimeError("boom' in err


def test_argparse_errors_stay_exit_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["render", "clusters/a800-ib.yaml", "--workers", "-5"])
    assert info.value.code == 2
