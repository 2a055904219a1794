"""Output of a benchmark run: an nccl-tests style table, a JSON file, a PNG plot.

The table keeps nccl-tests' columns (``size count type redop root``, then ``time
algbw busbw #wrong`` out of place and in place, N/A where not measured) so people and parsers used to
nccl-tests read it at once; comment lines (``#``) carry the group, its
expectation, the transports NCCL reported and the verdicts.

Example:
    >>> print(format_table(result))  # doctest: +SKIP
    #                                                               out-of-place                        in-place
    ...
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path
from typing import Any

from aiinfra.bench.bandwidth import format_size
from aiinfra.bench.collectives import lookup
from aiinfra.bench.results import BenchResult, GroupResult
from aiinfra.bench.spec import SizeResult
from aiinfra.bench.verdict import for_collective

SCHEMA = "aiinfra.bench/1"
_TYPE_NAMES = {"float32": "float", "float16": "half", "bfloat16": "bfloat16", "float64": "double"}


def _transport_text(t: dict[str, Any]) -> str:
    if not t:
        return "not reported (gloo, or NCCL log off)"
    via = ", ".join(f"{k} x{v}" for k, v in t.get("transports", {}).items()) or "none seen"
    extra = [f"network {t['network']}"] if t.get("network") else []
    if t.get("nvls_channels") is not None:
        extra.append(f"{t['nvls_channels']} NVLS channels")
    if t.get("coll_channels") is not None:
        extra.append(f"{t['coll_channels']} coll channels")
    return f"{via}; {', '.join(extra)}" if extra else via


_HEADER = (
    f"#{'':55}{'out-of-place':>20}{'in-place':>32}",
    "#       size         count      type   redop    root     time   algbw   busbw  #wrong"
    "     time   algbw   busbw  #wrong",
    "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)             (us)  (GB/s)  (GB/s)",
)
_NOT_MEASURED = f"  {'N/A':>7}  {'N/A':>6}  {'N/A':>6}  {'N/A':>6}"


def _placement_columns(r: SizeResult | None) -> str:
    """time algbw busbw #wrong of one placement; N/A where torch.distributed has no such variant."""
    if r is None:
        return _NOT_MEASURED
    wrong = "N/A" if r.wrong < 0 else str(r.wrong)
    return f"  {_num(r.time_us):>7}  {_num(r.algbw):>6}  {_num(r.busbw):>6}  {wrong:>6}"


def format_group(g: GroupResult, collective: str) -> list[str]:
    """The table lines of one group for one collective, nccl-tests layout (out-of-place, then in-place).

    Example:
        >>> format_group(group, "all_reduce")[0]  # doctest: +SKIP
        '# node vm: 2 ranks on 1 node(s), expected busbw >= 324.0 GB/s ...'
    """
    rows = [r for r in g.rows if r.collective == collective]
    if not rows:
        return []
    lay = g.layout
    exp = for_collective(g.expectation, collective, len(lay.members))
    want = f"expected busbw {exp.busbw:.1f} GB/s ({exp.source})" if exp else "no expectation"
    gpus = ",".join(str(m.gpu) for m in lay.members if m.gpu is not None)
    lines = [
        f"# {lay.name}: {len(lay.members)} ranks on {lay.nodes} node(s)" + (f", GPUs {gpus}" if gpus else "")
        + f"; {want}",
        f"# transports: {_transport_text(g.transports)}",
        *_HEADER,
    ]
    redop = lookup(collective).redop
    by_size: dict[int, dict[str, SizeResult]] = {}
    for r in rows:
        by_size.setdefault(r.size, {})[r.placement] = r
    for size, placed in by_size.items():
        first = next(iter(placed.values()))
        lines.append(
            f"{size:12d}  {first.count:12d}  {_TYPE_NAMES.get(first.dtype, first.dtype):>8}  {redop:>6}  {-1:6d}"
            + _placement_columns(placed.get("out-of-place")) + _placement_columns(placed.get("in-place"))
        )
    avg = sum(r.busbw for r in rows) / len(rows)  # nccl-tests averages both placements
    lines.append(f"# Avg bus bandwidth    : {avg:.3f}")
    return lines


def _num(x: float) -> str:
    """nccl-tests' width-limited numbers: %.2f, then %.1f, %.0f, then an exponent."""
    for fmt in ("{:.2f}", "{:.1f}", "{:.0f}"):
        text = fmt.format(x)
        if len(text) <= 7:
            return text
    return f"{x:.1e}"


def format_table(result: BenchResult) -> str:
    """The whole terminal report: a header, one block per collective and group, the verdicts.

    Example:
        >>> print(format_table(result))  # doctest: +SKIP
    """
    env = result.environment
    head = (
        f"# aiinfra bench: launcher {result.launcher}, mode {result.mode}, backend {result.backend}, "
        f"{env.get('ranks', 0)} ranks on {len(env.get('hosts', []))} host(s)"
    )
    versions = ", ".join(f"{k} {env[k]}" for k in ("nccl", "torch", "cuda", "ray") if env.get(k))
    lines = [head, f"# {versions}" if versions else "#"]
    if env.get("gpus"):
        lines.append(f"# GPUs: {', '.join(env['gpus'])}")
    nccl_env = env.get("nccl_env", {})
    if nccl_env:
        lines.append("# " + " ".join(f"{k}={v}" for k, v in nccl_env.items() if k != "NCCL_DEBUG_SUBSYS"))
    collectives = list(dict.fromkeys(r.collective for g in result.groups for r in g.rows))
    for coll in collectives:
        lines += ["#", f"# Collective test: {coll}"]
        for g in result.groups:
            lines += format_group(g, coll)
    lines.append("#")
    lines.append("# Verdicts (busbw at the largest size):")
    for v in result.verdicts:
        lines.append(
            f"#   {v.status.upper():5} {v.group:<22} {v.collective:<15} {format_size(v.size):>6}  "
            f"{v.busbw:8.2f} GB/s  {v.reason}"
        )
    for note in result.notes:
        lines.append(f"# NOTE {note}")
    lines.append(f"# Result: {'FAILED' if result.failed else 'OK'}")
    return "\n".join(lines)


def to_json(result: BenchResult) -> dict[str, Any]:
    """Every figure of the run, its environment, transports and verdicts, JSON-ready.

    Example:
        >>> to_json(result)["schema"]  # doctest: +SKIP
        'aiinfra.bench/1'
    """
    return {
        "schema": SCHEMA,
        "launcher": result.launcher,
        "mode": result.mode,
        "backend": result.backend,
        "started": datetime.datetime.fromtimestamp(result.started, datetime.UTC).isoformat(timespec="seconds"),
        "duration_s": round(result.duration_s, 2),
        "config": result.config,
        "environment": result.environment,
        "groups": [
            {
                "name": g.layout.name,
                "kind": g.layout.kind,
                "ranks": [dataclasses.asdict(m) for m in g.layout.members],
                "expectation": dataclasses.asdict(g.expectation) if g.expectation else None,
                "transports": g.transports,
                "results": [
                    {**dataclasses.asdict(r), "type": _TYPE_NAMES.get(r.dtype, r.dtype),
                     "redop": lookup(r.collective).redop, "root": -1}
                    for r in g.rows
                ],
            }
            for g in result.groups
        ],
        "verdicts": [dataclasses.asdict(v) for v in result.verdicts],
        "notes": result.notes,
        "ok": not result.failed,
    }


def write_json(result: BenchResult, path: str | Path) -> Path:
    """Write :func:`to_json` to ``path`` (parents created); returns the path.

    Example:
        >>> write_json(result, "out/bench.json")  # doctest: +SKIP
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(to_json(result), indent=2) + "\n", encoding="utf-8")
    return out


def write_plot(result: BenchResult, path: str | Path) -> Path:
    """A PNG of busbw against size, one line per collective and group, expectations dashed.

    Example:
        >>> write_plot(result, "out/busbw.png")  # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on cluster nodes or in CI
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    for g in result.groups:
        for coll, placement in dict.fromkeys((r.collective, r.placement) for r in g.rows):
            rows = [r for r in g.rows if (r.collective, r.placement) == (coll, placement)]
            label = f"{coll} {placement}" if len(result.groups) == 1 else f"{coll} {placement} · {g.layout.name}"
            ax.plot([r.size for r in rows], [r.busbw for r in rows], marker="o", markersize=3, label=label)
    expectations = {(g.expectation.busbw, g.expectation.source) for g in result.groups if g.expectation}
    for bw, source in sorted(expectations):
        ax.axhline(bw, linestyle="--", linewidth=1, color="grey")
        ax.annotate(f"expected {bw:.0f} GB/s ({source})", (0.01, bw), xycoords=("axes fraction", "data"),
                    fontsize=7, color="dimgrey", va="bottom")
    ax.set_xscale("log", base=2)
    sizes = sorted({r.size for g in result.groups for r in g.rows})
    if sizes:
        ticks = sizes if len(sizes) <= 14 else sizes[:: max(1, len(sizes) // 10)]
        ax.set_xticks(ticks, [format_size(s) for s in ticks], rotation=45)
    ax.set_xlabel("size (bytes, nccl-tests convention)")
    ax.set_ylabel("busbw (GB/s)")
    env = result.environment
    what = ", ".join(env.get("gpus", [])) or "CPU"
    nccl = f", NCCL {env['nccl']}" if env.get("nccl") else ""
    ax.set_title(f"busbw vs size: {env.get('ranks', 0)} ranks, {what}{nccl} ({result.launcher}, {result.mode})",
                 fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
