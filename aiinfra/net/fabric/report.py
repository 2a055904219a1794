"""The fabric test's report: findings per level, a node x rail heatmap, the rounds; table, JSON, HTML, metrics.

Metrics (Prometheus textfile, for node_exporter's textfile collector and the alert rules):

- ``aiinfra_fabric_test_passed`` 1 when the test found nothing;
- ``aiinfra_fabric_test_rounds`` localisation rounds measured;
- ``aiinfra_fabric_test_rail_busbw_ratio{node,rail}`` best busbw of the node's rail / line rate;
- ``aiinfra_fabric_test_fault{kind,node,rail,peer}`` 1 per slow node, rail or link found;
- ``aiinfra_fabric_test_nccl_socket_fallback{node}`` 1 where NCCL fell back to sockets;
- ``aiinfra_fabric_test_node_check_failed{node,check}`` 1 per failed node check.

Example:
    >>> from aiinfra.net.fabric.localise import Localisation, Fault
    >>> loc = Localisation(["a", "b"], ["r0"], 22.5, [Fault("node", "a")], [], [])
    >>> report = FabricReport.from_localisation(loc, line_gb_s=25.0)
    >>> report.exit_code, report.findings[0].code
    (1, 'slow-node')
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiinfra.contract import (
    FABRIC_LAST_RUN_METRIC,
    FABRIC_PASSED_METRIC,
    FABRIC_RAIL_RATIO_METRIC,
    FABRIC_SOCKET_METRIC,
)
from aiinfra.findings import Finding
from aiinfra.net.fabric.localise import Fault, Localisation

_ACTIONS = {
    "node": "cordon and taint the node so launch() avoids it, then check its HCAs, PCIe links and GPUDirect",
    "rail": "check this rail's HCA port, cable and switch port (ibstat rate, perfquery error counters)",
    "link": "both ends are fine with others: check the path between them (switch ports, routing, cables)",
}


@dataclass
class FabricReport:
    """Everything the three levels found, and the data plane's measurements."""

    findings: list[Finding]
    levels: dict[str, list[Finding]]
    localisation: Localisation | None = None
    line_gb_s: float = 25.0
    socket_fallback: list[str] = field(default_factory=list)
    finished: float = field(default_factory=time.time)
    """When the test finished (Unix seconds), exported so an alert sees a test that stopped running."""

    @classmethod
    def from_localisation(cls, loc: Localisation, line_gb_s: float,
                          levels: dict[str, list[Finding]] | None = None) -> FabricReport:
        """Add the data plane's faults, one error finding each, to the other levels' findings."""
        data = [_finding(f) for f in loc.faults]
        data += [Finding("undecided", "warning", u, "still suspect when the round budget ran out",
                         "run the test again; if it stays, treat it as slow") for u in loc.unresolved]
        all_levels = dict(levels or {})
        all_levels["data plane"] = data
        return cls([f for fs in all_levels.values() for f in fs], all_levels, loc, line_gb_s)

    @property
    def passed(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def best_busbw(self) -> list[list[float | None]]:
        """Per node and rail the best pair busbw measured: a slow end caps every pair it is in."""
        loc = self.localisation
        if loc is None:
            return []
        index = {n: i for i, n in enumerate(loc.nodes)}
        best: list[list[float | None]] = [[None] * len(loc.rails) for _ in loc.nodes]
        for rnd in loc.rounds:
            for pair, values in zip(rnd.pairs, rnd.busbw, strict=True):
                for node in pair:
                    row = best[index[node]]
                    for r, v in enumerate(values):
                        row[r] = v if row[r] is None else max(v, row[r] or 0.0)
        return best

    def to_dict(self) -> dict[str, Any]:
        loc = self.localisation
        return {
            "passed": self.passed,
            "levels": {name: [f.to_dict() for f in fs] for name, fs in self.levels.items()},
            "line_gb_s": self.line_gb_s,
            "floor_gb_s": loc.floor if loc else None,
            "nodes": loc.nodes if loc else [],
            "rails": loc.rails if loc else [],
            "best_busbw_gb_s": self.best_busbw(),
            "faults": [str(f) for f in loc.faults] if loc else [],
            "rounds": [{"round": r.index, "pairs": [list(p) for p in r.pairs], "purpose": r.purpose,
                        "busbw_gb_s": r.busbw} for r in loc.rounds] if loc else [],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def table(self) -> str:
        """The terminal report: one line per finding by level, then the verdict."""
        lines = []
        for name, fs in self.levels.items():
            lines.append(f"{name}: {'ok' if not fs else f'{len(fs)} finding(s)'}")
            for f in fs:
                lines.append(f"  {f.severity:<8} {f.device:<28} {f.message}")
                lines.append(f"  {'':<8} -> {f.action}")
        if self.localisation is not None:
            lines.append(f"localisation: {len(self.localisation.rounds)} round(s) over "
                         f"{len(self.localisation.nodes)} nodes x {len(self.localisation.rails)} rails")
        lines.append("PASSED" if self.passed else "FAILED")
        return "\n".join(lines)

    def metrics(self) -> str:
        """Prometheus text exposition of the findings (names in the module docstring)."""
        out = [f"# HELP {FABRIC_PASSED_METRIC} 1 when the fabric test found nothing.",
               f"# TYPE {FABRIC_PASSED_METRIC} gauge", f"{FABRIC_PASSED_METRIC} {int(self.passed)}",
               f"# HELP {FABRIC_LAST_RUN_METRIC} When the fabric test finished (Unix seconds).",
               f"# TYPE {FABRIC_LAST_RUN_METRIC} gauge", f"{FABRIC_LAST_RUN_METRIC} {self.finished:.0f}"]
        loc = self.localisation
        if loc is not None:
            out += ["# HELP aiinfra_fabric_test_rounds Localisation rounds measured.",
                    "# TYPE aiinfra_fabric_test_rounds gauge", f"aiinfra_fabric_test_rounds {len(loc.rounds)}",
                    f"# HELP {FABRIC_RAIL_RATIO_METRIC} Best pair busbw of a node's rail / line rate.",
                    f"# TYPE {FABRIC_RAIL_RATIO_METRIC} gauge"]
            for node, row in zip(loc.nodes, self.best_busbw(), strict=True):
                for rail, v in zip(loc.rails, row, strict=True):
                    if v is not None:
                        out.append(f'{FABRIC_RAIL_RATIO_METRIC}{{node="{node}",rail="{rail}"}} '
                                   f"{v / self.line_gb_s:.4f}")
            out += ["# HELP aiinfra_fabric_test_fault A slow node, rail or link the localisation named.",
                    "# TYPE aiinfra_fabric_test_fault gauge"]
            out += [f'aiinfra_fabric_test_fault{{kind="{f.kind}",node="{f.node}",rail="{f.rail or ""}",'
                    f'peer="{f.peer or ""}"}} 1' for f in loc.faults]
        out += [f"# HELP {FABRIC_SOCKET_METRIC} 1 where NCCL used sockets, not IB.",
                f"# TYPE {FABRIC_SOCKET_METRIC} gauge"]
        out += [f'{FABRIC_SOCKET_METRIC}{{node="{n}"}} 1' for n in self.socket_fallback]
        out += ["# HELP aiinfra_fabric_test_node_check_failed 1 per node check that failed.",
                "# TYPE aiinfra_fabric_test_node_check_failed gauge"]
        # Level-2 devices read "<node>:<device>": the metric is per node and check.
        failed = sorted({(f.device.split(":")[0], f.code) for f in self.levels.get("node", [])
                         if f.severity == "error"})
        out += [f'aiinfra_fabric_test_node_check_failed{{node="{node}",check="{code}"}} 1' for node, code in failed]
        return "\n".join(out) + "\n"

    def heatmap_png(self) -> bytes:
        """The node x rail heatmap of best busbw / line rate, as PNG bytes."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        loc = self.localisation
        nodes, rails = (loc.nodes, loc.rails) if loc else ([], [])
        grid = [[(v or 0.0) / self.line_gb_s for v in row] for row in self.best_busbw()] or [[0.0]]
        fig, ax = plt.subplots(figsize=(2 + 0.6 * max(len(rails), 1), 1.5 + 0.3 * max(len(nodes), 1)), dpi=80)
        im = ax.imshow(grid, cmap="RdYlGn", vmin=0.4, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(rails)), rails, rotation=45)
        ax.set_yticks(range(len(nodes)), nodes)
        ax.set_title("best busbw / line rate")
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        return buf.getvalue()

    def html(self) -> str:
        """A self-contained page: verdict, findings with actions per level, heatmap (inline PNG), rounds."""
        esc = html.escape
        verdict = "PASSED" if self.passed else "FAILED"
        parts = [f"<h1 id='verdict' class='{verdict.lower()}'>Fabric test: {verdict}</h1>"]
        for name, fs in self.levels.items():
            rows = "".join(f"<tr><td>{esc(f.severity)}</td><td>{esc(f.device)}</td><td>{esc(f.message)}</td>"
                           f"<td>{esc(f.action)}</td></tr>" for f in fs)
            body = f"<table><tr><th>severity</th><th>where</th><th>finding</th><th>action</th></tr>{rows}</table>"
            parts.append(f"<h2>{esc(name)}</h2>" + (body if fs else "<p>ok</p>"))
        if self.localisation is not None:
            png = base64.b64encode(self.heatmap_png()).decode()
            parts.append(f"<h2>Bandwidth per node and rail</h2><img id='heatmap' alt='heatmap' "
                         f"src='data:image/png;base64,{png}'>")
            items = "".join(f"<li>round {r.index}: " + ", ".join(f"{esc(a)}-{esc(b)} ({esc(w)})" for (a, b), w
                                                                   in zip(r.pairs, r.purpose, strict=True))
                            + "</li>" for r in self.localisation.rounds)
            parts.append(f"<h2>Localisation rounds</h2><ol id='rounds'>{items}</ol>")
        style = ("body{font-family:sans-serif;margin:2em}.passed{color:#186a3b}.failed{color:#b03a2e}"
                 "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}")
        return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Fabric test: {verdict}</title>"
                f"<link rel='icon' href='data:,'><style>{style}</style></head><body>{''.join(parts)}</body></html>")


def _finding(f: Fault) -> Finding:
    code = {"node": "slow-node", "rail": "slow-rail", "link": "slow-link"}[f.kind]
    device = f.node if f.kind == "node" else f"{f.node}:{f.rail}" if f.kind == "rail" else f"{f.node}-{f.peer}:{f.rail}"
    return Finding(code, "error", device, f"{f} below 90% of line rate with every partner"
                   if f.kind != "link" else f"{f}: slow together, both ends fine with others", _ACTIONS[f.kind])
