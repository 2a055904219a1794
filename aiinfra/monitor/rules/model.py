"""What one alert is: its rule, its runbook text and the two cases that prove it.

Each :class:`Alert` carries a ``fires`` case (input series under which it must fire, with the
exact labels it must fire with) and a ``quiet`` case (a healthy or borderline input under which
it must not). ``aiinfra.monitor.rules.render`` turns both into ``promtool test rules`` files.

Example:
    >>> from aiinfra.monitor.rules.model import Alert, Case, Severity
    >>> a = Alert("X", "gpu", "up == 0", "10s", Severity.CRITICAL, "{{ $labels.node }} down", "why",
    ...           check="c", action="a", check_zh="c", action_zh="a",
    ...           fires=Case((("up{node='n1'}", "0x5"),), "20s", ({"node": "n1"},)),
    ...           quiet=Case((("up{node='n1'}", "1x5"),), "20s"))
    >>> a.summary_for({"node": "n1"})
    'n1 down'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

RUNBOOK_BASE = "https://github.com/aiinfra/aiinfra/blob/main/docs/runbooks"
"""Where runbook_url points; each alert's runbook is docs/runbooks/<AlertName>.md."""


class Severity(StrEnum):
    """Routing classes: critical pages (node is a cordon candidate), warning opens a ticket, info tells the owner."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Case:
    """Input series (selector, promtool expanding values), an eval time and the label sets expected to fire."""

    series: tuple[tuple[str, str], ...]
    at: str
    alerts: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class Alert:
    """One alerting rule with its runbook text (English and Chinese) and its two test cases."""

    name: str
    subsystem: str
    expr: str
    for_: str
    severity: Severity
    summary: str
    """Go template naming what is affected, e.g. ``{{ $labels.node }} {{ $labels.device }}``."""
    description: str
    check: str
    action: str
    check_zh: str
    action_zh: str
    fires: Case
    quiet: Case
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def runbook_url(self) -> str:
        """Link to this alert's runbook (docs/runbooks/<name>.md)."""
        return f"{RUNBOOK_BASE}/{self.name}.md"

    def rule_labels(self) -> dict[str, str]:
        """Labels the rule adds to every alert it fires."""
        return {"severity": self.severity.value, "subsystem": self.subsystem, **self.labels}

    def annotations(self) -> dict[str, str]:
        """Annotations of the rule (templates unexpanded)."""
        return {"summary": self.summary, "description": self.description, "runbook_url": self.runbook_url}

    def summary_for(self, labels: dict[str, str]) -> str:
        """The summary as Prometheus expands it for an alert with these labels (``$labels.x`` only)."""
        return _expand(self.summary, labels)

    def description_for(self, labels: dict[str, str]) -> str:
        """The description as Prometheus expands it for an alert with these labels."""
        return _expand(self.description, labels)


_LABEL_REF = re.compile(r"\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def _expand(template: str, labels: dict[str, str]) -> str:
    # Prometheus renders a missing label as "<no value>": keep that so a test spots a summary naming a label
    # the expression drops.
    if "{{" in _LABEL_REF.sub("", template):
        raise ValueError(f"annotation uses more than $labels: {template!r}")
    return _LABEL_REF.sub(lambda m: labels.get(m.group(1), "<no value>"), template)


def alert_of(subsystem: str) -> Callable[..., Alert]:
    """An Alert constructor for one subsystem: the same arguments as Alert, without ``subsystem``.

    Example:
        >>> alert_of("bond").__name__
        'alert_in_subsystem'
    """

    def alert_in_subsystem(name: str, *rest: Any, **named: Any) -> Alert:
        return Alert(name, subsystem, *rest, **named)

    return alert_in_subsystem
