"""NVLink per link: state and error counters, including Hopper's field values.

``nvmlDeviceGetNvLinkErrorCounter`` gives the DL replay/recovery/CRC/ECC counts; on Hopper
several answer NotSupported (DCGM shows N/A there), and the per-link ``NVML_FI_DEV_NVLINK_COUNT_*``
field values (symbol errors, effective errors, failed recoveries, ...) take over. Both land in
``aiinfra_gpu_nvlink_errors_total{error}``; links the GPU does not have are not reported.

Example:
    >>> from aiinfra.monitor.exporter.metrics import Scrape
    >>> from aiinfra.monitor.exporter.nvml_replay import ReplayNvml
    >>> from aiinfra.monitor.exporter.registry import ExporterConfig
    >>> nvml = ReplayNvml({"gpus": [{"name": "G", "pci_bus_id": "00000000:01:00.0", "nvlink_states": [1, 0],
    ...                              "field_values": {"221/1": 7}}]})
    >>> s = Scrape("gpu_nvlink"); GpuNvlinkCollector(ExporterConfig(nvml=nvml)).collect(s)
    >>> errors = [m for m in s.families() if m.name == "aiinfra_gpu_nvlink_errors"][0]
    >>> [(x.labels["link"], x.labels["error"], x.value) for x in errors.samples]
    [('1', 'symbol', 7.0)]
"""

from __future__ import annotations

from typing import Any

from aiinfra.monitor.exporter.metrics import Scrape, counter, gauge
from aiinfra.monitor.exporter.nvml_record import MAX_LINKS, NVLINK_COUNTERS, NVLINK_FIELDS
from aiinfra.monitor.exporter.nvml_session import NvmlSession, PerGpuCollector, pynvml
from aiinfra.monitor.exporter.registry import ExporterConfig, register

UP = gauge("aiinfra_gpu_nvlink_up", "1 when the NVLink link is up.", "gpu", "link")
EXPECTED = gauge("aiinfra_gpu_nvlink_links_expected", "Links the definition's NVLink bandwidth implies.", "gpu")
ERRORS = counter("aiinfra_gpu_nvlink_errors_total", "NVLink errors per link, by kind.", "gpu", "link", "error")
GB_S_PER_LINK = 25  # NVLink 3/4: 25 GB/s per link and direction (as aiinfra.node.checks.host)


@register
class GpuNvlinkCollector(PerGpuCollector):
    name = "gpu_nvlink"

    def __init__(self, config: ExporterConfig) -> None:
        super().__init__(config)
        d = config.definition
        self.expected = round(d.gpu.nvlink_gb_s / GB_S_PER_LINK) if d is not None and d.gpu is not None else None

    def collect_gpu(self, s: Scrape, nv: NvmlSession, index: int, h: Any) -> None:
        gpu = str(index)
        s.add(EXPECTED, self.expected, gpu=gpu)
        links = 0
        for link in range(MAX_LINKS):
            try:
                state = nv.nvml.nvmlDeviceGetNvLinkState(h, link)
            except pynvml.NVMLError:
                break  # no such link (or no NVLink at all): not an error
            except Exception:
                s.error("nvml")
                break
            links += 1
            s.add(UP, int(state == pynvml.NVML_FEATURE_ENABLED), gpu=gpu, link=str(link))
            for ci, name in NVLINK_COUNTERS.items():
                v = nv.call(s, index, f"nvlink_error.{name}", "nvmlDeviceGetNvLinkErrorCounter", h, link, ci)
                s.add(ERRORS, v, gpu=gpu, link=str(link), error=name)
        if links:
            self._fields(s, nv, index, h, links)

    def _fields(self, s: Scrape, nv: NvmlSession, index: int, h: Any, links: int) -> None:
        ids = [(f, link) for link in range(links) for f in NVLINK_FIELDS]
        values = nv.call(s, index, "nvlink_field_values", "nvmlDeviceGetFieldValues", h, ids)
        for v in values or []:
            if v.nvmlReturn == pynvml.NVML_SUCCESS and v.fieldId in NVLINK_FIELDS:
                s.add(ERRORS, v.value.ullVal, gpu=str(index), link=str(v.scopeId), error=NVLINK_FIELDS[v.fieldId])
