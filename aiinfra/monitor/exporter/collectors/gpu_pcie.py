"""GPU PCIe link: generation and width against the maximum, and the replay counter.

Only a narrower link counts as down-trained: the generation drops at idle by design
(power management) and comes back under load.

Example:
    >>> from aiinfra.monitor.exporter.metrics import Scrape
    >>> from aiinfra.monitor.exporter.nvml_replay import ReplayNvml
    >>> from aiinfra.monitor.exporter.registry import ExporterConfig
    >>> pcie = {"generation": 1, "generation_max": 5, "width": 8, "width_max": 16, "replay": 3}
    >>> nvml = ReplayNvml({"gpus": [{"name": "G", "pci_bus_id": "00000000:01:00.0", "pcie": pcie}]})
    >>> s = Scrape("gpu_pcie"); GpuPcieCollector(ExporterConfig(nvml=nvml)).collect(s)
    >>> [m.samples[0].value for m in s.families() if m.name == "aiinfra_gpu_pcie_link_downtrained"]
    [1.0]
"""

from __future__ import annotations

from typing import Any

from aiinfra.monitor.exporter.metrics import Scrape, counter, gauge
from aiinfra.monitor.exporter.nvml_session import NvmlSession, PerGpuCollector
from aiinfra.monitor.exporter.registry import register

GEN = gauge("aiinfra_gpu_pcie_link_generation", "Current PCIe generation (drops at idle).", "gpu")
GEN_MAX = gauge("aiinfra_gpu_pcie_link_generation_max", "Highest PCIe generation GPU and slot support.", "gpu")
WIDTH = gauge("aiinfra_gpu_pcie_link_width", "Current PCIe lanes.", "gpu")
WIDTH_MAX = gauge("aiinfra_gpu_pcie_link_width_max", "Maximum PCIe lanes.", "gpu")
DOWNTRAINED = gauge("aiinfra_gpu_pcie_link_downtrained", "1 when the link is narrower than its maximum.", "gpu")
REPLAYS = counter("aiinfra_gpu_pcie_replays_total", "PCIe replay counter.", "gpu")
_CALLS = (
    (GEN, "nvmlDeviceGetCurrPcieLinkGeneration"),
    (GEN_MAX, "nvmlDeviceGetGpuMaxPcieLinkGeneration"),
    (WIDTH, "nvmlDeviceGetCurrPcieLinkWidth"),
    (WIDTH_MAX, "nvmlDeviceGetMaxPcieLinkWidth"),
    (REPLAYS, "nvmlDeviceGetPcieReplayCounter"),
)


@register
class GpuPcieCollector(PerGpuCollector):
    name = "gpu_pcie"

    def collect_gpu(self, s: Scrape, nv: NvmlSession, index: int, handle: Any) -> None:
        got = {}
        for spec, fn in _CALLS:
            field = spec.name.removeprefix("aiinfra_gpu_")
            got[spec.name] = v = nv.call(s, index, field, fn, handle)
            s.add(spec, v, gpu=str(index))
        width, width_max = got[WIDTH.name], got[WIDTH_MAX.name]
        if width is not None and width_max is not None:
            s.add(DOWNTRAINED, int(width < width_max), gpu=str(index))
