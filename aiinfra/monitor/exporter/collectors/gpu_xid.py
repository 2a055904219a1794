"""XID critical errors as counters, from an NVML event thread; the GPU inventory.

NVML keeps no XID counter and dcgm-exporter's ``DCGM_FI_DEV_XID_ERRORS`` holds only the
last XID, so a repeat is invisible. A thread registers every GPU for
``nvmlEventTypeXidCriticalError`` and counts each event by (gpu, xid) for the life of the
exporter: ``increase(aiinfra_gpu_xid_errors_total[5m])`` then sees every occurrence.

Example:
    >>> import time
    >>> from aiinfra.monitor.exporter.metrics import Scrape
    >>> from aiinfra.monitor.exporter.nvml_replay import ReplayNvml
    >>> from aiinfra.monitor.exporter.registry import ExporterConfig
    >>> gpu = {"name": "G", "pci_bus_id": "00000000:01:00.0"}
    >>> nvml = ReplayNvml({"gpus": [gpu], "xid_events": [{"gpu": 0, "xid": 79}]})
    >>> c = GpuXidCollector(ExporterConfig(nvml=nvml)); time.sleep(0.2)
    >>> s = Scrape("gpu_xid"); c.collect(s); c.close()
    >>> [(m.name, [x.value for x in m.samples]) for m in s.families()][-1]
    ('aiinfra_gpu_xid_errors', [1.0])
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

from aiinfra.monitor.exporter.metrics import Scrape, counter, gauge
from aiinfra.monitor.exporter.nvml_session import NvmlSession, pynvml, session_for
from aiinfra.monitor.exporter.registry import ExporterConfig, register

INFO = gauge("aiinfra_gpu_info", "One per GPU NVML sees.", "gpu", "name", "uuid", "pci_bus_id")
EXPECTED = gauge("aiinfra_gpu_count_expected", "GPUs per node the cluster definition expects.")
XID = counter("aiinfra_gpu_xid_errors_total", "XID critical-error events since the exporter started.", "gpu", "xid")
WATCH = gauge("aiinfra_gpu_xid_watch_up", "1 when XID events of this GPU are being received.", "gpu")
log = logging.getLogger(__name__)
WAIT_MS = 1000


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class XidWatcher(threading.Thread):
    """Counts XID events of every GPU until :meth:`stop`."""

    def __init__(self, session: NvmlSession) -> None:
        super().__init__(name="aiinfra-xid", daemon=True)
        self.session = session
        self.counts: Counter[tuple[int, int]] = Counter()
        self.watching: dict[int, bool] = {}
        self.errors = 0
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self._watch()
            except Exception as exc:  # re-register after any failure (driver reload, GPU lost)
                log.warning("XID event thread: %s", exc)
                with self._lock:
                    self.errors += 1
                    self.watching = dict.fromkeys(self.watching, False)
                self._halt.wait(5.0)

    def _watch(self) -> None:
        nvml = self.session.nvml
        handles = self.session.gpus(Scrape("gpu_xid"))
        if not handles:
            raise RuntimeError("NVML has no GPUs")
        event_set = nvml.nvmlEventSetCreate()
        try:
            for index, handle in handles:
                try:
                    nvml.nvmlDeviceRegisterEvents(handle, pynvml.nvmlEventTypeXidCriticalError, event_set)
                    ok = True
                except pynvml.NVMLError:
                    ok = False
                with self._lock:
                    self.watching[index] = ok
            while not self._halt.is_set():
                try:
                    event = nvml.nvmlEventSetWait_v2(event_set, WAIT_MS)
                except pynvml.NVMLError as exc:
                    if getattr(exc, "value", None) == pynvml.NVML_ERROR_TIMEOUT:
                        continue
                    raise
                index = int(nvml.nvmlDeviceGetIndex(event.device))
                with self._lock:
                    self.counts[(index, int(event.eventData))] += 1
        finally:
            nvml.nvmlEventSetFree(event_set)

    def snapshot(self) -> tuple[dict[tuple[int, int], int], dict[int, bool], int]:
        with self._lock:
            return dict(self.counts), dict(self.watching), self.errors

    def stop(self) -> None:
        self._halt.set()


@register
class GpuXidCollector:
    name = "gpu_xid"

    def __init__(self, config: ExporterConfig) -> None:
        self.session = session_for(config.nvml)
        d = config.definition
        self.expected = d.gpu.per_node if d is not None and d.gpu is not None else None
        self.watcher = XidWatcher(self.session) if self.session is not None else None
        self.reported_errors = 0
        if self.watcher is not None:
            self.watcher.start()

    def collect(self, s: Scrape) -> None:
        s.add(EXPECTED, self.expected)
        if self.session is None or self.watcher is None:
            return
        for index, handle in self.session.gpus(s):
            name = self.session.call(s, index, "name", "nvmlDeviceGetName", handle)
            pci = self.session.call(s, index, "pci_bus_id", "nvmlDeviceGetPciInfo", handle)
            uuid = self.session.call(s, index, "uuid", "nvmlDeviceGetUUID", handle)
            s.add(INFO, 1, gpu=str(index), name=_text(name or ""), uuid=_text(uuid or ""),
                  pci_bus_id=_text(pci.busId) if pci is not None else "")  # fmt: skip
        counts, watching, errors = self.watcher.snapshot()
        for index, ok in sorted(watching.items()):
            s.add(WATCH, int(ok), gpu=str(index))
        for (index, xid), n in sorted(counts.items()):
            s.add(XID, n, gpu=str(index), xid=str(xid))
        for _ in range(errors - self.reported_errors):
            s.error("nvml")
        self.reported_errors = errors

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher.join(timeout=2 * WAIT_MS / 1000)
        if self.session is not None:
            self.session.close()
