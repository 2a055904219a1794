"""Runbooks (docs/runbooks/<Alert>.md, docs/zh/runbooks/<Alert>.md) and the alert table of docs/alerts.md.

Generated from the same :class:`Alert` data as the rules, so a runbook always matches its rule.

Example:
    >>> from aiinfra.definition import load_definition
    >>> from aiinfra.monitor.rules import alert_rules
    >>> from aiinfra.monitor.rules.runbooks import runbook
    >>> a = alert_rules(load_definition("clusters/a800-ib.yaml"))[0]
    >>> runbook(a, "en").splitlines()[0]
    '# GpuXidFatal'
"""

from __future__ import annotations

from typing import Literal

from aiinfra.monitor.rules.model import Alert
from aiinfra.monitor.rules.runbooks_zh import DESCRIPTIONS_ZH

Lang = Literal["en", "zh"]

_TEXT = {
    "en": {
        "severity": "Severity",
        "for": "Fires after",
        "expr": "Expression",
        "meaning": "What it means",
        "check": "What to check",
        "do": "What to do",
        "generated": "Generated from aiinfra/monitor/rules; edit the alert there and run `make golden`.",
        "alert": "Alert",
        "subsystem": "Subsystem",
        "summary": "Summary",
        "immediately": "immediately",
    },
    "zh": {
        "severity": "级别",
        "for": "持续时间",
        "expr": "表达式",
        "meaning": "含义",
        "check": "检查什么",
        "do": "怎么处理",
        "generated": "由 aiinfra/monitor/rules 生成；请在那里修改告警并运行 `make golden`。",
        "alert": "告警",
        "subsystem": "子系统",
        "summary": "摘要",
        "immediately": "立即",
    },
}


def runbook(a: Alert, lang: Lang) -> str:
    """The runbook page of one alert in English or Chinese."""
    t = _TEXT[lang]
    check, action = (a.check, a.action) if lang == "en" else (a.check_zh, a.action_zh)
    meaning = a.description if lang == "en" else DESCRIPTIONS_ZH.get(a.name, a.description)
    held = a.for_ if a.for_ != "0s" else t["immediately"]
    return "\n".join(
        [
            f"# {a.name}",
            "",
            f"- {t['severity']}: `{a.severity.value}`",
            f"- {t['subsystem']}: `{a.subsystem}`",
            f"- {t['for']}: {held}",
            f"- {t['summary']}: {a.summary}",
            "",
            f"## {t['meaning']}",
            "",
            meaning,
            "",
            f"## {t['check']}",
            "",
            check,
            "",
            f"## {t['do']}",
            "",
            action,
            "",
            f"## {t['expr']}",
            "",
            "```promql",
            a.expr,
            "```",
            "",
            f"<!-- {t['generated']} -->",
            "",
        ]
    )


def alert_table(alerts: list[Alert], lang: Lang) -> str:
    """A markdown table of every alert with its severity, hold time and runbook link."""
    t = _TEXT[lang]
    prefix = "runbooks"  # docs/alerts.md and docs/zh/alerts.md each link their own runbooks/ folder
    rows = [
        f"| {t['alert']} | {t['subsystem']} | {t['severity']} | {t['for']} | {t['meaning']} |",
        "|---|---|---|---|---|",
    ]
    for a in alerts:
        text = a.description if lang == "en" else DESCRIPTIONS_ZH.get(a.name, a.description)
        meaning = text.replace("|", "\\|")
        rows.append(f"| [{a.name}]({prefix}/{a.name}.md) | {a.subsystem} | {a.severity.value} | {a.for_} | {meaning} |")
    return "\n".join(rows) + "\n"
