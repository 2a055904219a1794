"""The monitoring stack rendered from a definition: kube-prometheus-stack values, rules, dashboards, monitors.

Example:
    >>> from aiinfra.monitor.stack import MonitorOptions, stack_values
    >>> "alertmanager" in stack_values(MonitorOptions())
    True
"""

from __future__ import annotations

from aiinfra.monitor.stack.objects import monitoring_objects
from aiinfra.monitor.stack.values import MonitorOptions, stack_values

__all__ = ["MonitorOptions", "monitoring_objects", "stack_values"]
