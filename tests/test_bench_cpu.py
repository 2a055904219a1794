"""A real gloo run of every collective with 2 ranks through the CLI: table, JSON and PNG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiinfra.bench.bandwidth import COLLECTIVES
from aiinfra.bench.collectives import lookup
from aiinfra.cli import main

pytestmark = pytest.mark.torch  # the [train] extra; CI installs it


def _check_json(path: Path, launcher: str, collectives: tuple[str, ...], sizes: list[int]) -> dict:
    data = json.loads(path.read_text())
    assert data["launcher"] == launcher and data["backend"] == "gloo" and data["ok"] is True
    assert data["environment"]["ranks"] == 2 and data["environment"]["torch"]
    (group,) = data["groups"]
    assert len(group["ranks"]) == 2
    rows = group["results"]
    want = [(c, s, p) for c in collectives for s in sizes for p in lookup(c).placements]
    assert [(r["collective"], r["size"], r["placement"]) for r in rows] == want
    for r in rows:
        assert r["wrong"] == 0, r  # every collective returned the expected values on every rank
        assert r["time_us"] > 0 and r["algbw"] > 0 and len(r["rank_time_us"]) == 2
    # CPU runs have nothing to be judged against: reported, never failed.
    assert {v["status"] for v in data["verdicts"]} == {"info"}
    return data


def test_every_collective_local_gloo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json, out_png = tmp_path / "bench.json", tmp_path / "busbw.png"
    code = main(["bench", "all", "--local", "--backend", "gloo", "--sizes", "4K", "64K", "--iters", "3",
                 "--warmup", "1", "--json", str(out_json), "--plot", str(out_png)])  # fmt: skip
    assert code == 0
    table = capsys.readouterr().out
    assert ("#       size         count      type   redop    root     time   algbw   busbw  #wrong     time   algbw"
            "   busbw  #wrong") in table
    assert "out-of-place" in table and "in-place" in table
    assert "# Result: OK" in table
    data = _check_json(out_json, "torch.multiprocessing", COLLECTIVES, [4096, 65536])
    ag = next(r for r in data["groups"][0]["results"] if r["collective"] == "all_gather")
    assert ag["busbw"] == pytest.approx(ag["algbw"] / 2)  # (n-1)/n with n = 2
    # nccl-tests' count column: one rank's chunk for all_gather / reduce_scatter / alltoall, the buffer otherwise
    counts = {(r["collective"], r["size"]): r["count"] for r in data["groups"][0]["results"]}
    assert counts[("all_gather", 65536)] == counts[("reduce_scatter", 65536)] == 65536 // 4 // 2
    assert counts[("alltoall", 65536)] == 65536 // 4 // 2
    assert counts[("all_reduce", 65536)] == counts[("sendrecv", 65536)] == 65536 // 4
    # Both placements of all_gather on one table line; alltoall has only out-of-place, all_reduce only in-place.
    ag_line, a2a_line = [v for v in table.splitlines() if v.startswith("       65536          8192     float    none")]
    assert "N/A" not in ag_line and len(ag_line.split()) == 13
    assert a2a_line.split()[9:] == ["N/A"] * 4 and "N/A" not in a2a_line.split()[5:9]
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out_png.stat().st_size > 10_000
    (ar_line,) = [v for v in table.splitlines() if v.startswith("       65536         16384     float     sum")
                  and v.split()[5] == "N/A"]
    assert ar_line.split()[5:9] == ["N/A"] * 4 and "N/A" not in ar_line.split()[9:]


def test_no_in_place_measures_out_of_place_only(tmp_path: Path) -> None:
    out_json = tmp_path / "bench.json"
    code = main(["bench", "all_gather,all_reduce", "--local", "--backend", "gloo", "--sizes", "16K", "--iters", "2",
                 "--warmup", "1", "--no-in-place", "--json", str(out_json)])  # fmt: skip
    assert code == 0
    rows = json.loads(out_json.read_text())["groups"][0]["results"]
    assert [(r["collective"], r["placement"]) for r in rows] == [("all_gather", "out-of-place"),
                                                                  ("all_reduce", "in-place")]


def test_cpu_expectation_fails_the_node_of_a_slowed_rank(capsys: pytest.CaptureFixture[str]) -> None:
    """A real gloo run judged against --expect: healthy it passes at every size; one rank slowed fails it."""
    import socket

    from aiinfra.bench.measure import INJECT_DELAY_ENV

    argv = ["bench", "all_reduce", "--local", "--backend", "gloo", "--gpus", "2", "--sizes", "64K", "256K",
            "--iters", "3", "--warmup", "1", "--expect", "0.002", "--timeout", "300"]  # fmt: skip
    assert main(argv) == 0
    healthy = capsys.readouterr().out
    assert "PASS" in healthy and "every size passed" in healthy and "# Result: OK" in healthy
    # Healthy gloo needs under 36 ms per 64 KiB op to pass (10x slack for a busy CI host); rank 1
    # sleeping 0.5 s before each timed op gives about 0.0001 GB/s, 15x below the floor.
    assert main([*argv, "--env", f"{INJECT_DELAY_ENV}=1:0.5"]) == 1
    slowed = capsys.readouterr().out
    assert "# Result: FAILED" in slowed
    (line,) = [v for v in slowed.splitlines() if v.startswith("#   FAIL")]
    assert f"node {socket.gethostname()}" in line and "at 65536 bytes" in line


@pytest.mark.ray
def test_through_ray_actors(tmp_path: Path) -> None:
    out_json = tmp_path / "ray.json"
    code = main(["bench", "all_reduce,sendrecv", "--backend", "gloo", "--gpus", "2", "--sizes", "16K",
                 "--iters", "3", "--json", str(out_json), "--timeout", "120"])  # fmt: skip
    assert code == 0
    data = _check_json(out_json, "ray", ("all_reduce", "sendrecv"), [16384])
    assert data["environment"]["ray"]
    assert "CPU ranks" in data["environment"]["placement"]


@pytest.mark.ray
def test_rail_and_intra_modes_on_a_two_node_cluster() -> None:
    """Two Ray nodes of 2 fake GPUs each: rail mode pairs GPU k of both nodes, intra mode each node's GPUs."""
    import ray
    from ray.cluster_utils import Cluster

    from aiinfra.bench.runner import BenchConfig, run_ray
    from aiinfra.bench.spec import MeasureSpec

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=2, num_gpus=2)
        ray.init(address=cluster.address)
        spec = MeasureSpec(("all_reduce",), (4096,), iters=2, warmup=1)
        rail = run_ray(BenchConfig(spec, mode="rail", backend="gloo", nccl_log=False, timeout_s=120))
        intra = run_ray(BenchConfig(spec, mode="intra", backend="gloo", nccl_log=False, timeout_s=120))
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert [g.layout.name for g in rail.groups] == ["gpu0", "gpu1"]
    for g in rail.groups:
        assert g.layout.kind == "rail" and g.layout.nodes == 2
        assert {m.gpu for m in g.layout.members} == {int(g.layout.name[3:])}
        assert g.rows[0].wrong == 0 and g.rows[0].nranks == 2
    assert [g.layout.nodes for g in intra.groups] == [1, 1]
    assert sorted(str(sorted(m.gpu or 0 for m in g.layout.members)) for g in intra.groups) == ["[0, 1]", "[0, 1]"]
    assert {v.status for v in rail.verdicts + intra.verdicts} == {"info"}  # 4 KiB: nothing to judge
