"""Verdicts: each group's busbw against what its links should carry, and against its peers.

Expectations come from the cluster definition (``gpu.nvlink_gb_s``,
``rails[].rate_gbps``) or, without one, from the GPU's name. They are what
NCCL reaches on healthy hardware, not line rates (sources in
docs/performance-tuning.md and ../shared/reference/validation-anchors.md):

- inside a node, NCCL's ring reaches about 80% of the NVLink rate per GPU per
  direction (8x H100/H200 363-370 of 450 GB/s; A100 230-236 of 300);
- per rail, about 96% of the line rate (HDR 200 Gb/s = 25 GB/s, NCCL ~24 per NIC;
  NDR 400 = 50 GB/s, 46-49 per NIC);
- across nodes (whole job), busbw is bounded by the node's rails together.

A figure fails below 90% of its expectation, the margin nccl-tests applies to
``NCCL_TESTS_MIN_BW``. A node or rail more than 10% below the median of its
peers is ``slow`` and named, even when above the absolute floor: one slow rail
drags every ring through it.

Example:
    >>> e = Expectation("node", 450.0 * NVLINK_EFFICIENCY, 450.0, "gpu.nvlink_gb_s")
    >>> status_for(348.0, e), status_for(300.0, e)
    ('pass', 'fail')
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

NVLINK_EFFICIENCY = 0.80
"""NCCL ring busbw / NVLink rate per direction (R4, R33: 363-370 of 450; R7: ~230 of 300)."""
RAIL_EFFICIENCY = 0.96
"""NCCL busbw per NIC / line rate (R12: 24 of 25 GB/s HDR; R10, R11: 46-49 of 50 NDR)."""
FAIL_FRACTION = 0.90
"""Fail below this fraction of the expectation (nccl-tests NCCL_TESTS_MIN_BW uses 0.9x)."""
PEER_FRACTION = 0.90
"""Slow when below this fraction of the peers' median (the request's 10%)."""
SMALL_RING_EFFICIENCY = 0.65
"""all_gather / reduce_scatter on 2-3 GPUs: NCCL reaches only ~65% of NVLink there (2x H200, NCCL 2.28:
293 GB/s at 8 GiB in ../shared/fixtures/nccl/2xh200-torch-busbw.json, 283-307 in benchmarks/results/
h200x4-2026-11-28-2gpu*.json), while the published ~361 GB/s (R33) is an 8-GPU figure."""
MIN_VERDICT_BYTES = 2**30
"""Below 1 GiB the curve has not reached its plateau (R4: 'peak needs 1-8 GB'): peers are compared only above."""
LATENCY_BUDGET_S = 200e-6
"""Fixed cost per op allowed when a size below the plateau is judged: a healthy link moving B bytes per rank
takes at most this plus B / expected busbw, so small sizes get a floor of E * B / (B + E * L), near E at 1 GiB."""
JUDGED = frozenset({"all_reduce", "all_gather", "reduce_scatter"})
"""Ring collectives with published references; alltoall and send/recv are reported, not judged."""

# NVLink GB/s per GPU per direction by model, for runs without a definition (datasheets: A100 12
# links, A800/H800 8 links, H100/H200 SXM 18 links). PCIe cards have no NVLink switch.
_NVLINK_BY_MODEL = (("H200", 450.0), ("H100", 450.0), ("H800", 200.0), ("A800", 200.0), ("A100", 300.0))


@dataclass(frozen=True)
class Expectation:
    """The busbw a healthy group should reach, the line rate behind it, and where it came from."""

    kind: str
    busbw: float
    line_rate: float
    source: str


@dataclass(frozen=True)
class Verdict:
    """One group's verdict for one collective: the first size that failed, else the largest size measured."""

    group: str
    kind: str
    collective: str
    size: int
    busbw: float
    expected: float | None
    status: str
    """'pass', 'fail', 'slow' (>10% below peers), or 'info' (nothing to judge against)."""
    reason: str

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "slow")


def nvlink_from_name(gpu_name: str) -> float | None:
    """NVLink GB/s per direction for a GPU name as CUDA reports it, or None when unknown.

    Example:
        >>> nvlink_from_name("NVIDIA H200"), nvlink_from_name("NVIDIA H100 PCIe")
        (450.0, None)
    """
    upper = gpu_name.upper()
    if "PCIE" in upper:
        return None
    return next((rate for model, rate in _NVLINK_BY_MODEL if model in upper), None)


def intra_node(nvlink_gb_s: float, source: str) -> Expectation:
    """Expectation inside one node from the NVLink rate of one GPU.

    Example:
        >>> intra_node(450, "gpu.nvlink_gb_s").busbw
        360.0
    """
    return Expectation("node", nvlink_gb_s * NVLINK_EFFICIENCY, nvlink_gb_s, source)


def per_rail(rate_gbps: float, source: str) -> Expectation:
    """Expectation of one rail (one GPU per node) from its line rate in Gb/s.

    Example:
        >>> per_rail(200, "rails[0].rate_gbps").busbw  # HDR: 25 GB/s line, ~24 through NCCL
        24.0
    """
    line = rate_gbps / 8.0
    return Expectation("rail", line * RAIL_EFFICIENCY, line, source)


def whole_job(nvlink_gb_s: float | None, rail_rates_gbps: list[float], nodes: int) -> Expectation | None:
    """Expectation of a job: NVLink on one node; across nodes the rails of a node together.

    Example:
        >>> whole_job(300, [200.0] * 8, nodes=4).busbw  # 8 HDR rails, 8 x 24 GB/s (DGX-A100: 192, R8)
        192.0
    """
    if nodes <= 1:
        return intra_node(nvlink_gb_s, "gpu.nvlink_gb_s") if nvlink_gb_s else None
    if not rail_rates_gbps:
        return None
    line = sum(rail_rates_gbps) / 8.0
    fabric = Expectation("job", line * RAIL_EFFICIENCY, line, "sum of rails[].rate_gbps")
    if nvlink_gb_s and nvlink_gb_s * NVLINK_EFFICIENCY < fabric.busbw:
        return intra_node(nvlink_gb_s, "gpu.nvlink_gb_s")
    return fabric


def for_collective(exp: Expectation | None, collective: str, nranks: int) -> Expectation | None:
    """The group's expectation adjusted for a collective and rank count (NVLink groups only).

    Example:
        >>> nvlink = intra_node(450, "gpu.nvlink_gb_s")
        >>> for_collective(nvlink, "all_gather", 2).busbw, for_collective(nvlink, "all_gather", 8).busbw
        (292.5, 360.0)
    """
    if exp is None or exp.kind != "node" or collective not in ("all_gather", "reduce_scatter") or nranks > 3:
        return exp
    return Expectation(exp.kind, exp.line_rate * SMALL_RING_EFFICIENCY, exp.line_rate,
                       f"{exp.source}; {SMALL_RING_EFFICIENCY:.0%} for {collective} on {nranks} GPUs (measured)")


def explicit(gb_s: float) -> Expectation:
    """An expectation stated by the operator (``aiinfra bench --expect``): any backend, CPU included.

    Example:
        >>> explicit(2.0).busbw, explicit(2.0).source
        (2.0, '--expect')
    """
    return Expectation("given", gb_s, gb_s, "--expect")


def floor_at(expected: Expectation, size: int, collective: str, nranks: int) -> float:
    """The busbw a size must reach (before the 90% margin): the expectation less a fixed per-op latency.

    Example:
        >>> e = intra_node(450, "")
        >>> round(floor_at(e, 2**30, "all_reduce", 8)), round(floor_at(e, 2**20, "all_reduce", 8))
        (347, 9)
    """
    from aiinfra.bench.bandwidth import bus_factor

    moved = size * bus_factor(collective, nranks)
    if moved <= 0:
        return 0.0
    return expected.busbw * moved / (moved + expected.busbw * 1e9 * LATENCY_BUDGET_S)


def status_for(busbw: float, expected: Expectation | None) -> str:
    """'pass' or 'fail' against an expectation; 'info' without one.

    Example:
        >>> status_for(23.0, per_rail(200, "")), status_for(20.0, per_rail(200, ""))
        ('pass', 'fail')
    """
    if expected is None:
        return "info"
    return "pass" if busbw >= FAIL_FRACTION * expected.busbw else "fail"


def judge(
    figures: list[tuple[str, str, str, int, float, int]],
    expectations: dict[str, Expectation | None],
    nranks: dict[str, int] | None = None,
) -> list[Verdict]:
    """One verdict per group and collective, judging (group, kind, collective, size, busbw, wrong) at every size.

    Every size is held to :func:`floor_at` (the expectation less a fixed per-op latency); the
    first size below 90% of its floor fails the group. Groups of one kind are peers at their
    largest size (from 1 GiB): one more than 10% below the others' median is 'slow'.

    Example:
        >>> e = per_rail(200, "rails[].rate_gbps")
        >>> figs = [(f"rail{i}", "rail", "all_reduce", 2**30, bw, 0) for i, bw in enumerate((23.5, 23.8, 19.0))]
        >>> vs = judge(figs, {"rail0": e, "rail1": e, "rail2": e})
        >>> [(v.group, v.status) for v in vs]
        [('rail0', 'pass'), ('rail1', 'pass'), ('rail2', 'slow')]
    """
    rows: dict[tuple[str, str, str], list[tuple[int, float, int]]] = {}
    for group, kind, coll, size, bw, wrong in figures:
        rows.setdefault((group, kind, coll), []).append((size, bw, wrong))
    largest = {key: max(sizes) for key, sizes in rows.items()}
    verdicts = []
    for (group, kind, coll), sizes in rows.items():
        n = (nranks or {}).get(group, 8)
        exp = for_collective(expectations.get(group), coll, n)
        verdicts.append(_judge_group(group, kind, coll, sorted(sizes), exp, n, largest))
    return verdicts


def _judge_group(
    group: str,
    kind: str,
    coll: str,
    sizes: list[tuple[int, float, int]],
    exp: Expectation | None,
    n: int,
    largest: dict[tuple[str, str, str], tuple[int, float, int]],
) -> Verdict:
    size, bw, _ = sizes[-1]
    exp_bw = exp.busbw if exp else None
    for s, b, wrong in sizes:
        if wrong > 0:
            return Verdict(group, kind, coll, s, b, exp_bw, "fail", f"{wrong} wrong elements at {s} bytes")
    peers = [v[1] for (g, k, c), v in largest.items() if k == kind and c == coll and g != group and v[0] == size]
    median = statistics.median(peers) if peers else None
    if size >= MIN_VERDICT_BYTES and median is not None and bw < PEER_FRACTION * median:
        reason = f"{bw:.1f} GB/s is {100 * (1 - bw / median):.0f}% below its peers' median {median:.1f}"
        return Verdict(group, kind, coll, size, bw, exp_bw, "slow", reason)
    if exp is None:
        return Verdict(group, kind, coll, size, bw, None, "info",
                       "no expectation (no cluster definition and an unknown GPU, or CPU without --expect)")
    if coll not in JUDGED and exp.kind != "given":
        return Verdict(group, kind, coll, size, bw, exp_bw, "info",
                       "reported only: no published reference for this collective")
    for s, b, _ in sizes:
        floor = floor_at(exp, s, coll, n)
        if b < FAIL_FRACTION * floor:
            reason = (f"{_gb(b)} of {_gb(exp.busbw)} GB/s expected at {s} bytes: below 90% of the {_gb(floor)} GB/s "
                      f"a healthy group reaches there ({LATENCY_BUDGET_S * 1e6:.0f} us per op allowed; {exp.source})")
            return Verdict(group, kind, coll, s, b, exp_bw, "fail", reason)
    share = f"{100 * bw / exp.busbw:.0f}%"
    reason = f"{_gb(bw)} of {_gb(exp.busbw)} GB/s expected ({share}; {exp.source}); every size passed"
    if coll == "all_reduce" and bw > exp.line_rate and exp.kind != "given":
        reason += "; above the line rate: NVLS, Tree or SHARP in use, not a wire figure"
    return Verdict(group, kind, coll, size, bw, exp_bw, "pass", reason)


def _gb(x: float) -> str:
    return f"{x:.1f}" if x >= 1 else f"{x:.3g}"


def slowest(verdicts: list[Verdict]) -> list[str]:
    """One sentence per collective and kind naming the slowest node or rail, when one is slow.

    Example:
        >>> slowest([Verdict("rail2", "rail", "all_reduce", 2**30, 19.0, 24.0, "slow", "")])
        ['slowest rail for all_reduce: rail2 at 19.0 GB/s']
    """
    out = []
    keys = sorted({(v.kind, v.collective) for v in verdicts if v.status == "slow"})
    for kind, coll in keys:
        worst = min((v for v in verdicts if v.kind == kind and v.collective == coll), key=lambda v: v.busbw)
        out.append(f"slowest {kind} for {coll}: {worst.group} at {worst.busbw:.1f} GB/s")
    return out
