"""Throttle time as counters: how long clocks were held down, per reason.

``nvmlDeviceGetViolationStatus`` returns nanoseconds accumulated since the driver loaded;
``rate(aiinfra_gpu_violation_seconds_total{reason="thermal"}[5m])`` is then the fraction of
time the GPU was thermally throttled.

Example:
    >>> from aiinfra.monitor.exporter.metrics import Scrape
    >>> from aiinfra.monitor.exporter.nvml_replay import ReplayNvml
    >>> from aiinfra.monitor.exporter.registry import ExporterConfig
    >>> gpu = {"name": "G", "pci_bus_id": "00000000:01:00.0", "violation_ns": {"thermal": 2500000000}}
    >>> nvml = ReplayNvml({"gpus": [gpu]})
    >>> s = Scrape("gpu_throttle"); GpuThrottleCollector(ExporterConfig(nvml=nvml)).collect(s)
    >>> [(x.labels["reason"], x.value) for m in s.families() for x in m.samples if m.name.startswith("aiinfra_gpu_v")]
    [('thermal', 2.5)]
"""

from __future__ import annotations

from typing import Any

from aiinfra.monitor.exporter.metrics import Scrape, counter
from aiinfra.monitor.exporter.nvml_record import VIOLATIONS
from aiinfra.monitor.exporter.nvml_session import NvmlSession, PerGpuCollector
from aiinfra.monitor.exporter.registry import register

VIOLATION = counter(
    "aiinfra_gpu_violation_seconds_total", "Time clocks were held below target, by reason.", "gpu", "reason"
)


@register
class GpuThrottleCollector(PerGpuCollector):
    name = "gpu_throttle"

    def collect_gpu(self, s: Scrape, nv: NvmlSession, index: int, handle: Any) -> None:
        for policy, reason in VIOLATIONS.items():
            v = nv.call(s, index, f"violation.{reason}", "nvmlDeviceGetViolationStatus", handle, policy)
            if v is not None:
                s.add(VIOLATION, v.violationTime / 1e9, gpu=str(index), reason=reason)
