"""Small PromQL building blocks the rule modules share.

Example:
    >>> from aiinfra.monitor.rules.promql import sel, counter_rose
    >>> sel("up", job="x")
    'up{job="x"}'
    >>> counter_rose('m{a="b"}', "5m")
    '(increase(m{a="b"}[5m]) > 0 or (m{a="b"} > 0 unless m{a="b"} offset 5m))'
"""

from __future__ import annotations


def sel(metric: str, **matchers: str) -> str:
    """``metric{k="v",...}``; a value starting with ``~`` becomes a regex matcher, ``!`` a negative one."""
    parts = []
    for key, value in matchers.items():
        if value.startswith("~"):
            parts.append(f'{key}=~"{value[1:]}"')
        elif value.startswith("!"):
            parts.append(f'{key}!="{value[1:]}"')
        else:
            parts.append(f'{key}="{value}"')
    return f"{metric}{{{','.join(parts)}}}" if parts else metric


def counter_rose(series: str, window: str) -> str:
    """True while a counter grew within ``window``, including a series born at a non-zero value.

    ``increase`` needs two samples of one series, so a labelled counter that first appears
    already at 1 (the first XID of that number) would be missed; the ``unless ... offset``
    half catches exactly such a new series for one window.
    """
    return f"(increase({series}[{window}]) > 0 or ({series} > 0 unless {series} offset {window}))"


def nodes_with(job: str) -> str:
    """One series per node where ``job`` has a target: the set of nodes an alert is about."""
    return f'group by (node) (up{{job="{job}"}})'
