"""Plot a dashboard's panel queries from a live Prometheus as one PNG: the docs' screenshot where no Grafana exists.

Each panel becomes a subplot in the dashboard's own grid order; every query runs as Grafana would send it
(template variables at All, ``$__rate_interval`` substituted) over the last minutes. Time series are
lines, tables and stats the latest values as a bar chart, node x rail matrices a heatmap. The end-to-end
test on process nodes (tests/k8s/process/test_40_monitoring.py) calls it on its Prometheus.

Usage: python tests/monitor/dashboard_png.py http://127.0.0.1:9090 aiinfra-ray out.png [minutes]
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from aiinfra.monitor.dashboards import all_dashboards, expand_query


def _range(url: str, expr: str, minutes: float) -> list[dict[str, Any]]:
    end = time.time()
    params = {"query": expr, "start": f"{end - minutes * 60:.0f}", "end": f"{end:.0f}", "step": "5"}
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{urllib.parse.urlencode(params)}", timeout=30) as r:
        return list(json.load(r)["data"]["result"])


def _legend(metric: dict[str, str], template: str | None) -> str:
    if template and template != "__auto":  # Grafana's __auto: the series' labels
        out = template
        for k, v in metric.items():
            out = out.replace("{{" + k + "}}", v)
        return re.sub(r"\{\{\s*\w+\s*\}\}", "", out).strip()  # as Grafana: a label the series lacks is blank
    return ",".join(f"{k}={v}" for k, v in metric.items() if k not in ("__name__", "job", "instance"))[:60]


def _plot(ax: Any, panel: dict[str, Any], url: str, minutes: float) -> int:
    """Draw one panel; returns how many series it had."""
    ax.set_title(panel["title"], fontsize=9)
    series = []
    for target in panel.get("targets", []):
        for s in _range(url, expand_query(target["expr"]), minutes):
            series.append((_legend(s["metric"], target.get("legendFormat")), s["values"]))
    if not series:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")
        ax.set_xticks([])
        ax.set_yticks([])
        return 0
    if panel["type"] == "timeseries":
        start = min(float(v[0][0]) for _, v in series)
        for label, values in series[:12]:
            ax.plot([(float(t) - start) / 60 for t, _ in values], [float(x) for _, x in values], label=label)
        ax.set_xlabel("minutes", fontsize=7)
        ax.legend(fontsize=6, loc="upper left")
    else:  # table, stat, heatmap, bargauge: the latest value of each series
        labels = [label for label, _ in series][:16]
        ax.barh(range(len(labels)), [float(v[-1][1]) for _, v in series][:16], color="tab:green")
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
    ax.tick_params(labelsize=6)
    return len(series)


def render_png(url: str, uid: str, out: Path, minutes: float = 5.0) -> dict[str, int]:
    """Write the PNG of dashboard ``uid``; returns panel title -> number of series plotted."""
    board = all_dashboards()[uid]
    panels = sorted(board["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))
    cols = 3
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(15, 3.2 * rows), squeeze=False)
    counts = {}
    for ax, panel in zip(axes.flat, panels, strict=False):
        counts[panel["title"]] = _plot(ax, panel, url, minutes)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(f"{board['title']} (panel queries plotted from Prometheus; no Grafana here)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return counts


if __name__ == "__main__":
    print(render_png(sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 5.0))
