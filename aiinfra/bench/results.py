"""A benchmark run as data: groups of ranks, their rows, transports, expectations and verdicts.

The launchers (:mod:`aiinfra.bench.runner`) decide the groups and collect one
:class:`~aiinfra.bench.worker.WorkerReport` per process; :func:`assemble`
turns those into a :class:`BenchResult` that :mod:`aiinfra.bench.report`
prints, saves as JSON and plots.

Example:
    >>> member = Member(host="n0", node_id="a", ip="10.0.0.1", gpu=0)
    >>> Layout("node n0", "node", [member]).nodes
    1
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiinfra.bench import verdict
from aiinfra.bench.spec import SizeResult, judged_rows
from aiinfra.bench.worker import WorkerReport
from aiinfra.definition.model import ClusterDefinition
from aiinfra.nccl.log_summary import summarize


@dataclass(frozen=True)
class Member:
    """One benchmark process: where it runs and which GPU (physical index on its node) it drives."""

    host: str
    node_id: str
    ip: str
    gpu: int | None
    slot: int = 0
    """Index of the process in the launcher's list (two CPU workers on one node differ only here)."""


@dataclass
class Layout:
    """A group of processes that form one process group: a node, a rail, or the whole job."""

    name: str
    kind: str
    """'node' (intra-node), 'rail' (one GPU per node on one rail) or 'job'."""
    members: list[Member]
    rail_rate_gbps: float | None = None

    @property
    def nodes(self) -> int:
        return len({m.node_id for m in self.members})


@dataclass
class GroupResult:
    """The measured rows of one group, where its ranks ran, and the transports NCCL reported."""

    layout: Layout
    rows: list[SizeResult]
    transports: dict[str, Any]
    expectation: verdict.Expectation | None


@dataclass
class BenchResult:
    """Everything one run produced; :func:`aiinfra.bench.report.to_json` writes every field."""

    launcher: str
    mode: str
    backend: str
    groups: list[GroupResult]
    verdicts: list[verdict.Verdict]
    environment: dict[str, Any]
    started: float = field(default_factory=time.time)
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    nccl_log: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    """What was asked for (collectives, sizes, dtype, iterations), set by the runner."""

    @property
    def failed(self) -> bool:
        return any(v.failed for v in self.verdicts)


def assemble(
    launcher: str,
    mode: str,
    backend: str,
    layouts: list[Layout],
    reports: list[WorkerReport],
    definition: ClusterDefinition | None = None,
    started: float | None = None,
    expect_gb_s: float | None = None,
) -> BenchResult:
    """Join the workers' reports into one result, with expectations and verdicts.

    Example:
        >>> assemble("local", "intra", "gloo", layouts, reports)  # doctest: +SKIP
    """
    by_group: dict[str, list[WorkerReport]] = {}
    for rep in reports:
        by_group.setdefault(rep.group, []).append(rep)
    groups, logs = [], []
    for layout in layouts:
        reps = sorted(by_group.get(layout.name, []), key=lambda r: r.rank)
        if not reps:
            continue
        log = "".join(r.nccl_log for r in reps)
        logs.append(log)
        gpu_name = reps[0].environment.get("gpu", "")
        exp = verdict.explicit(expect_gb_s) if expect_gb_s else _expectation(layout, backend, gpu_name, definition)
        groups.append(GroupResult(layout, reps[0].rows, summarize(log) if log else {}, exp))
    figures = [(g.layout.name, g.layout.kind, r.collective, r.size, r.busbw, r.wrong)
               for g in groups for r in judged_rows(g.rows)]
    verdicts = verdict.judge(
        figures, {g.layout.name: g.expectation for g in groups}, {g.layout.name: len(g.layout.members) for g in groups}
    )
    verdicts += [_socket_verdict(g) for g in groups if g.transports.get("socket_fallback") and g.layout.nodes > 1]
    result = BenchResult(
        launcher=launcher,
        mode=mode,
        backend=backend,
        groups=groups,
        verdicts=verdicts,
        environment=_environment(reports, definition),
        nccl_log="".join(logs),
    )
    if started is not None:
        result.started = started
        result.duration_s = time.time() - started
    result.notes.extend(verdict.slowest(verdicts))
    for g in groups:
        result.notes.extend(f"{g.layout.name}: {w}" for w in g.transports.get("warnings", []))
    return result


def _socket_verdict(g: GroupResult) -> verdict.Verdict:
    """A group spanning nodes whose NCCL moved data over NET/Socket: TCP, not RDMA; the run fails."""
    hosts = ", ".join(sorted({m.host for m in g.layout.members}))
    reason = (f"NCCL sent data over NET/Socket between {hosts}: no RDMA between these nodes "
              "(check the rails' resources, NCCL_IB_HCA and `aiinfra node check` on each node)")
    return verdict.Verdict(g.layout.name, g.layout.kind, "transport", 0, 0.0, None, "fail", reason)


def _expectation(
    layout: Layout, backend: str, gpu_name: str, definition: ClusterDefinition | None
) -> verdict.Expectation | None:
    if backend != "nccl" or len(layout.members) < 2:
        return None
    nvlink, source = None, ""
    if definition is not None and definition.gpu is not None:
        nvlink, source = definition.gpu.nvlink_gb_s, f"gpu.nvlink_gb_s in {definition.name}"
    elif gpu_name:
        nvlink, source = verdict.nvlink_from_name(gpu_name), f"NVLink of {gpu_name} (datasheet)"
    if layout.kind == "rail":
        if layout.rail_rate_gbps is None:
            return None
        return verdict.per_rail(layout.rail_rate_gbps, f"rate_gbps of {layout.name}")
    if layout.kind == "node" or layout.nodes == 1:
        return verdict.intra_node(nvlink, source) if nvlink else None
    rates = [r.rate_gbps for r in definition.rails] if definition else []
    return verdict.whole_job(nvlink, rates, layout.nodes)


def _environment(reports: list[WorkerReport], definition: ClusterDefinition | None) -> dict[str, Any]:
    """Versions and hardware seen by the workers; lists only where the ranks disagree."""
    env: dict[str, Any] = {}
    for key in ("torch", "cuda", "nccl", "backend"):
        values = sorted({r.environment.get(key, "") for r in reports} - {""})
        if values:
            env[key] = values[0] if len(values) == 1 else values
    env["gpus"] = sorted({r.environment["gpu"] for r in reports if "gpu" in r.environment})
    env["hosts"] = sorted({r.host for r in reports})
    env["ranks"] = len(reports)
    nccl_vars: dict[str, str] = {}
    for r in sorted(reports, key=lambda r: (r.group, r.rank)):
        nccl_vars.update({k: v for k, v in r.environment.items() if k.startswith("NCCL_")})
    env["nccl_env"] = nccl_vars
    env["per_rank"] = [
        {"group": r.group, "rank": r.rank, **{k: v for k, v in r.environment.items() if not k.startswith("NCCL_")}}
        for r in sorted(reports, key=lambda r: (r.group, r.rank))
    ]
    if definition is not None:
        env["cluster"] = definition.name
    return env
