"""Range windows live in Thresholds: an override reaches the rendered rules, and no rule or panel holds a literal."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from aiinfra.definition import load_definition
from aiinfra.monitor.dashboards import all_dashboards, boards, panel_queries
from aiinfra.monitor.rules import Thresholds, alert_rules
from aiinfra.monitor.rules.render import rule_groups

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = load_definition(ROOT / "clusters" / "a800-ib.yaml")

_DURATION = r"\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*"
_RANGE = re.compile(rf"\[({_DURATION})(?::(?:{_DURATION})?)?\]")
_OFFSET = re.compile(rf"\boffset\s+-?({_DURATION})")


def _windows_in(expr: str) -> list[str]:
    """Every range window and offset an expression uses, e.g. ``10m`` of ``increase(x[10m])``."""
    return _RANGE.findall(expr) + _OFFSET.findall(expr)


def _odd_windows() -> Thresholds:
    """Thresholds whose every window is a distinct value no hand-written literal would be (1001s, 1002s, ...)."""
    names = sorted(Thresholds().windows())
    return replace(Thresholds(), **{name: f"{1001 + i}s" for i, name in enumerate(names)})


def test_the_windows_found_are_the_ones_written() -> None:
    """The parser the checks below rely on finds ranges, subqueries and offsets, and skips label regexes."""
    expr = 'increase(a{x=~"[0-9]+"}[10m]) > 0 or max_over_time(b[1h30m:1m]) unless c offset 5m'
    assert _windows_in(expr) == ["10m", "1h30m", "5m"]


def test_a_window_override_changes_the_rendered_expression() -> None:
    default = {a.name: a for a in alert_rules(DEFINITION)}["GpuPcieReplays"]
    tuned = {a.name: a for a in alert_rules(DEFINITION, Thresholds(pcie_replay_window="30m"))}["GpuPcieReplays"]
    assert "[10m]" in default.expr and "[30m]" not in default.expr
    assert "[30m]" in tuned.expr and "[10m]" not in tuned.expr
    assert "in 30 minutes" in tuned.description and "in 10 minutes" in default.description


def test_no_rule_holds_a_window_literal() -> None:
    """Every ``[w]`` and ``offset w`` in the rendered rules comes from a Thresholds window, and every window is used.

    With each window set to a distinct odd value, a literal such as ``[10m]`` written into a rule module
    shows up here as a window that is not among the Thresholds' values.
    """
    t = _odd_windows()
    exprs = [r["expr"] for g in rule_groups(alert_rules(DEFINITION, t), t) for r in g["rules"]]
    found = {w for expr in exprs for w in _windows_in(expr)}
    windows = set(t.windows().values())
    assert found, "no range windows found: the parser is broken"
    assert found <= windows, f"range or offset literals outside Thresholds: {sorted(found - windows)}"
    unused = {name for name, value in t.windows().items() if value not in found}
    assert not unused, f"Thresholds windows no rule uses: {sorted(unused)}"


def test_no_dashboard_holds_a_window_literal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Panels that show what an alert counts take its window from Thresholds; others use $__rate_interval."""
    t = _odd_windows()
    monkeypatch.setattr(boards, "_T", t)
    found = {w for d in all_dashboards().values() for _, expr in panel_queries(d) for w in _windows_in(expr)}
    windows = set(t.windows().values())
    assert found, "no dashboard uses a Thresholds window: the check would pass on anything"
    assert found <= windows, f"range or offset literals outside Thresholds: {sorted(found - windows)}"
