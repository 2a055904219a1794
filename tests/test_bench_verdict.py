"""Verdicts: expectations from the cluster definition, and naming the slow node or rail."""

from __future__ import annotations

import pytest

from aiinfra.bench import verdict
from aiinfra.bench.report import format_table, to_json
from aiinfra.bench.results import Layout, Member, assemble
from aiinfra.bench.spec import SizeResult
from aiinfra.bench.worker import WorkerReport
from aiinfra.cli import main
from aiinfra.definition.loader import load_definition

GIB = 2**30


def row(coll: str, busbw: float, n: int, size: int = 4 * GIB, wrong: int = 0) -> SizeResult:
    factor = 2 * (n - 1) / n if coll == "all_reduce" else (n - 1) / n
    alg = busbw / factor
    return SizeResult(coll, size, size // 4, "float32", n, size / alg / 1e3, alg, busbw, wrong)


def reports(group: str, n: int, rows: list[SizeResult], gpu: str = "NVIDIA H100 80GB HBM3") -> list[WorkerReport]:
    env = {"gpu": gpu, "nccl": "2.28.9", "torch": "2.11.0", "backend": "nccl"}
    return [WorkerReport(group, r, rows, group, env) for r in range(n)]


def node(name: str, n: int = 8) -> Layout:
    return Layout(f"node {name}", "node", [Member(name, f"id-{name}", "10.0.0.1", g, g) for g in range(n)])


def test_expectations_from_definition() -> None:
    d = load_definition("clusters/h100-ndr.yaml")  # NVLink 450 GB/s, 8 NDR 400 Gb/s rails
    assert verdict.intra_node(d.gpu.nvlink_gb_s, "").busbw == pytest.approx(360.0)  # type: ignore[union-attr]
    assert verdict.per_rail(d.rails[0].rate_gbps, "").busbw == pytest.approx(48.0)
    assert verdict.per_rail(200, "").line_rate == 25.0  # HDR: 200 Gb/s = 25 GB/s
    job = verdict.whole_job(d.gpu.nvlink_gb_s, [r.rate_gbps for r in d.rails], nodes=4)  # type: ignore[union-attr]
    assert job is not None and job.busbw == pytest.approx(360.0)  # 8 x 48 = 384 by the rails, NVLink caps it
    a800 = load_definition("clusters/a800-ib.yaml")
    job = verdict.whole_job(a800.gpu.nvlink_gb_s, [r.rate_gbps for r in a800.rails], nodes=2)  # type: ignore[union-attr]
    assert job is not None and job.busbw == pytest.approx(len(a800.rails) * 25 * 0.96)


def test_slow_node_is_named() -> None:
    layouts = [node("a"), node("b"), node("c")]
    reps = [
        *reports("node a", 8, [row("all_reduce", 365.0, 8)]),
        *reports("node b", 8, [row("all_reduce", 290.0, 8)]),
        *reports("node c", 8, [row("all_reduce", 362.0, 8)]),
    ]
    result = assemble("ray", "intra", "nccl", layouts, reps, load_definition("clusters/h100-ndr.yaml"))
    status = {v.group: v.status for v in result.verdicts}
    assert status == {"node a": "pass", "node b": "slow", "node c": "pass"}
    assert result.failed
    assert "slowest node for all_reduce: node b at 290.0 GB/s" in result.notes
    assert "# NOTE slowest node for all_reduce: node b" in format_table(result)


def test_slow_rail_is_named_even_above_the_floor() -> None:
    e = verdict.per_rail(400, "rate_gbps")  # floor 0.9 x 48 = 43.2 GB/s
    figs = [(f"rail{i}", "rail", "all_reduce", GIB, bw, 0) for i, bw in enumerate([47.9, 48.1, 47.6, 48.0, 42.5])]
    figs[4] = ("rail4", "rail", "all_reduce", GIB, 42.5, 0)
    vs = verdict.judge(figs, {f[0]: e for f in figs})
    assert [v.status for v in vs] == ["pass", "pass", "pass", "pass", "slow"]
    assert verdict.slowest(vs) == ["slowest rail for all_reduce: rail4 at 42.5 GB/s"]
    # 10% is the line: 43.5 is 9.4% below the median 48.0, so not slow, and above the 43.2 floor.
    figs[4] = ("rail4", "rail", "all_reduce", GIB, 43.5, 0)
    assert verdict.judge(figs, {f[0]: e for f in figs})[4].status == "pass"


def test_absolute_floor_and_wrong_results() -> None:
    e = verdict.intra_node(450, "gpu.nvlink_gb_s")
    vs = verdict.judge([("node a", "node", "all_reduce", 8 * GIB, 320.0, 0)], {"node a": e})
    assert vs[0].status == "fail" and "320.0 of 360.0" in vs[0].reason
    vs = verdict.judge([("node a", "node", "all_reduce", 8 * GIB, 365.0, 3)], {"node a": e})
    assert vs[0].status == "fail" and "3 wrong" in vs[0].reason


def test_small_sizes_unjudged_collectives_and_cpu_are_info() -> None:
    e = verdict.intra_node(450, "")
    vs = verdict.judge(
        [("n", "node", "all_reduce", 2**20, 10.0, 0), ("n", "node", "alltoall", 8 * GIB, 300.0, 0)], {"n": e}
    )
    assert [v.status for v in vs] == ["info", "info"]
    assert not any(v.failed for v in vs)
    assert verdict.judge([("n", "node", "all_reduce", 8 * GIB, 1.0, 0)], {"n": None})[0].status == "info"


def test_two_gpu_all_gather_against_its_own_reference() -> None:
    # Measured on 2x H200 (benchmarks/results/h200x4-2026-11-28-2gpu.json): all_reduce 345.5, all_gather 303.2.
    layouts = [node("vm", 2)]
    reps = reports("node vm", 2, [row("all_reduce", 345.5, 2), row("all_gather", 303.2, 2)], gpu="NVIDIA H200")
    result = assemble("ray", "intra", "nccl", layouts, reps)
    assert [(v.collective, v.status) for v in result.verdicts] == [("all_reduce", "pass"), ("all_gather", "pass")]
    assert verdict.for_collective(verdict.intra_node(450, ""), "all_gather", 8).busbw == pytest.approx(360.0)
    # A broken 2-GPU node still fails.
    reps = reports("node vm", 2, [row("all_gather", 200.0, 2)], gpu="NVIDIA H200")
    assert assemble("ray", "intra", "nccl", layouts, reps).verdicts[0].status == "fail"


def test_expectation_from_gpu_name_without_definition() -> None:
    assert verdict.nvlink_from_name("NVIDIA A800-SXM4-80GB") == 200.0
    assert verdict.nvlink_from_name("NVIDIA A100-SXM4-80GB") == 300.0
    assert verdict.nvlink_from_name("NVIDIA H100 PCIe") is None
    assert verdict.nvlink_from_name("Tesla T4") is None


def test_json_carries_figures_environment_and_verdicts() -> None:
    reps = reports("node a", 8, [row("all_reduce", 365.0, 8)])
    data = to_json(assemble("ray", "intra", "nccl", [node("a")], reps))
    assert data["schema"] == "aiinfra.bench/1" and data["ok"] is True
    assert data["environment"]["nccl"] == "2.28.9" and data["environment"]["gpus"] == ["NVIDIA H100 80GB HBM3"]
    res = data["groups"][0]["results"][0]
    assert (res["type"], res["redop"], res["root"], res["busbw"]) == ("float", "sum", -1, 365.0)
    assert data["verdicts"][0]["status"] == "pass"


def test_cli_exit_codes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import aiinfra.bench.runner as runner

    def slow_node(config: runner.BenchConfig) -> object:
        reps = reports("node a", 8, [row("all_reduce", 365.0, 8)]) + reports("node b", 8, [row("all_reduce", 250.0, 8)])
        return assemble("torch.multiprocessing", "intra", "nccl", [node("a"), node("b")], reps)

    monkeypatch.setattr(runner, "run_local", slow_node)
    assert main(["bench", "all_reduce", "--local"]) == 1
    assert "FAILED" in capsys.readouterr().out
    assert main(["bench", "broadcast", "--local"]) == 2
    assert main(["bench", "all_reduce", "--local", "--sizes", "4Q"]) == 2
    assert main(["bench", "all_reduce", "--local", "--gpus", "0"]) == 2
    assert main(["bench", "all_reduce", "--mode", "rail", "--local"]) == 2
