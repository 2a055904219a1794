"""GPU memory health: ECC counts (total and per location) and row remapping.

dcgm-exporter's default counters leave out ECC and the pending-remap field (396); these
come straight from NVML: ``nvmlDeviceGetTotalEccErrors``, ``nvmlDeviceGetMemoryErrorCounter``,
``nvmlDeviceGetRemappedRows`` and ``nvmlDeviceGetRowRemapperHistogram``.

Example:
    >>> from aiinfra.monitor.exporter.metrics import Scrape
    >>> from aiinfra.monitor.exporter.nvml_replay import ReplayNvml
    >>> from aiinfra.monitor.exporter.registry import ExporterConfig
    >>> nvml = ReplayNvml({"gpus": [{"name": "G", "pci_bus_id": "00000000:01:00.0", "remapped_rows": [0, 2, 1, 0]}]})
    >>> s = Scrape("gpu_memory"); GpuMemoryCollector(ExporterConfig(nvml=nvml)).collect(s)
    >>> [m.samples[0].value for m in s.families() if m.name == "aiinfra_gpu_row_remap_pending"]
    [1.0]
"""

from __future__ import annotations

from typing import Any

from aiinfra.monitor.exporter.metrics import Scrape, counter, gauge
from aiinfra.monitor.exporter.nvml_record import ECC_COUNTERS, ERROR_TYPES, LOCATIONS
from aiinfra.monitor.exporter.nvml_session import NvmlSession, PerGpuCollector
from aiinfra.monitor.exporter.registry import register

ECC = counter(
    "aiinfra_gpu_ecc_errors_total", "ECC errors (nvmlDeviceGetTotalEccErrors).", "gpu", "error_type", "counter_type"
)
ECC_LOC = counter(
    "aiinfra_gpu_ecc_memory_errors_total",
    "ECC errors by memory location (nvmlDeviceGetMemoryErrorCounter).",
    "gpu", "error_type", "counter_type", "location",
)  # fmt: skip
PENDING = gauge("aiinfra_gpu_row_remap_pending", "1 when a row remap waits for the next GPU reset.", "gpu")
FAILURE = gauge("aiinfra_gpu_row_remap_failure", "1 when a row remap failed (RMA criterion).", "gpu")
REMAPPED = gauge("aiinfra_gpu_remapped_rows", "Rows remapped, by cause.", "gpu", "cause")
BANKS = gauge("aiinfra_gpu_row_remap_bank_availability", "Banks by spare rows left.", "gpu", "availability")
_HISTOGRAM = ("max", "high", "partial", "low", "none")


@register
class GpuMemoryCollector(PerGpuCollector):
    name = "gpu_memory"

    def collect_gpu(self, s: Scrape, nv: NvmlSession, index: int, h: Any) -> None:
        gpu = str(index)
        for ei, et in ERROR_TYPES.items():
            for ci, ct in ECC_COUNTERS.items():
                total = nv.call(s, index, f"ecc_total.{et}.{ct}", "nvmlDeviceGetTotalEccErrors", h, ei, ci)
                s.add(ECC, total, gpu=gpu, error_type=et, counter_type=ct)
                if total is None:
                    continue  # ECC off or unsupported: the per-location counters are too
                for li, loc in LOCATIONS.items():
                    field = f"ecc_memory.{et}.{ct}.{loc}"
                    v = nv.call(s, index, field, "nvmlDeviceGetMemoryErrorCounter", h, ei, ci, li)
                    s.add(ECC_LOC, v, gpu=gpu, error_type=et, counter_type=ct, location=loc)
        rows = nv.call(s, index, "remapped_rows", "nvmlDeviceGetRemappedRows", h)
        if rows is not None:
            corr, unc, pending, failure = rows
            s.add(REMAPPED, corr, gpu=gpu, cause="correctable")
            s.add(REMAPPED, unc, gpu=gpu, cause="uncorrectable")
            s.add(PENDING, int(bool(pending)), gpu=gpu)
            s.add(FAILURE, int(bool(failure)), gpu=gpu)
        hist = nv.call(s, index, "row_remapper_histogram", "nvmlDeviceGetRowRemapperHistogram", h)
        if hist is not None:
            for key in _HISTOGRAM:
                s.add(BANKS, getattr(hist, key), gpu=gpu, availability=key)
