"""One NVML session shared by the GPU collectors, with fail-soft calls.

NVML is initialised lazily and again after a failure (at most every 30 s: a driver
being reinstalled must not be hammered). :meth:`NvmlSession.call` turns NVML errors
into a missing value: NotSupported/NoPermission/NotFound are facts about the GPU and
become ``aiinfra_gpu_field_unavailable{reason}``; anything else is also counted as an
``nvml`` error of the collector.

Example:
    >>> import json
    >>> from aiinfra.monitor.exporter.nvml_replay import ReplayNvml
    >>> from aiinfra.monitor.exporter.metrics import Scrape
    >>> session = NvmlSession(ReplayNvml({"gpus": [{"name": "G", "pci_bus_id": "00000000:01:00.0"}]}))
    >>> s = Scrape("gpu_pcie")
    >>> [i for i, _ in session.gpus(s)], session.call(s, 0, "pcie_replay", "nvmlDeviceGetPcieReplayCounter", 0)
    ([0], None)
"""

from __future__ import annotations

import threading
import time
import warnings
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from aiinfra.monitor.exporter.metrics import Scrape, gauge
from aiinfra.monitor.exporter.registry import ExporterConfig

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import pynvml

UNAVAILABLE = gauge(
    "aiinfra_gpu_field_unavailable",
    "A field NVML does not answer on this GPU (left out of the metrics), by reason.",
    "gpu", "collector", "field", "reason",
)  # fmt: skip
RETRY_INIT_S = 30.0
_FACTS = {
    pynvml.NVML_ERROR_NOT_SUPPORTED: "not_supported",
    pynvml.NVML_ERROR_NO_PERMISSION: "no_permission",
    pynvml.NVML_ERROR_NOT_FOUND: "not_found",
}


class NvmlSession:
    """The NVML library (pynvml or a replay), initialised once for every GPU collector."""

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        self._lock = threading.Lock()
        self._handles: list[Any] | None = None
        self._failed_at: float | None = None
        self.unsupported: dict[tuple[int, str], str] = {}
        """(gpu, field) NVML answered NotSupported for: a fact about the GPU, not asked again."""

    def gpus(self, s: Scrape) -> list[tuple[int, Any]]:
        """(index, handle) of every GPU; [] with an ``nvml`` error counted when NVML is unusable."""
        with self._lock:
            if self._handles is None and (self._failed_at is None or time.monotonic() - self._failed_at > RETRY_INIT_S):
                try:
                    self.nvml.nvmlInit()
                    count = self.nvml.nvmlDeviceGetCount()
                    self._handles = [self.nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
                    self._failed_at = None
                except Exception:  # NVMLError, or OSError without libnvidia-ml
                    self._failed_at = time.monotonic()
            handles = self._handles
        if handles is None:
            s.error("nvml")
            return []
        return list(enumerate(handles))

    def call(self, s: Scrape, gpu: int, field: str, fn: str, *args: Any) -> Any:
        """``nvml.<fn>(*args)``, or None with the reason recorded."""
        known = self.unsupported.get((gpu, field))
        if known is not None:
            s.add(UNAVAILABLE, 1, gpu=str(gpu), collector=s.collector, field=field, reason=known)
            return None
        try:
            return getattr(self.nvml, fn)(*args)
        except pynvml.NVMLError as exc:
            reason = _FACTS.get(getattr(exc, "value", None), "error")
        except Exception:  # a replay or binding bug must not end the scrape
            reason = "error"
        if reason == "error":
            s.error("nvml")
        elif reason == "not_supported":
            self.unsupported[(gpu, field)] = reason
        s.add(UNAVAILABLE, 1, gpu=str(gpu), collector=s.collector, field=field, reason=reason)
        return None

    def close(self) -> None:
        with self._lock:
            if self._handles is not None:
                try:
                    self.nvml.nvmlShutdown()
                except Exception:
                    pass
            self._handles = None
        _SESSIONS.pop(id(self.nvml), None)


_SESSIONS: dict[int, NvmlSession] = {}


def session_for(nvml: Any) -> NvmlSession | None:
    """The session shared by all collectors of one NVML object; None when there is no NVML."""
    if nvml is None:
        return None
    return _SESSIONS.setdefault(id(nvml), NvmlSession(nvml))


class PerGpuCollector(ABC):
    """Base of the collectors that ask NVML about each GPU in turn: the shared session, the loop, the close.

    A subclass sets ``name`` and implements :meth:`collect_gpu`; without NVML it collects nothing.

    Example:
        >>> from aiinfra.monitor.exporter.nvml_replay import ReplayNvml
        >>> class Indices(PerGpuCollector):
        ...     def collect_gpu(self, s, nv, index, handle):
        ...         seen.append(index)
        >>> seen: list[int] = []
        >>> gpu = {"name": "G", "pci_bus_id": "00000000:01:00.0"}
        >>> c = Indices(ExporterConfig(nvml=ReplayNvml({"gpus": [gpu, gpu]})))
        >>> c.collect(Scrape("indices")); c.close(); seen
        [0, 1]
    """

    name: ClassVar[str]

    def __init__(self, config: ExporterConfig) -> None:
        self.session: NvmlSession | None = session_for(config.nvml)

    def collect(self, s: Scrape) -> None:
        if self.session is None:
            return
        for index, handle in self.session.gpus(s):
            self.collect_gpu(s, self.session, index, handle)

    @abstractmethod
    def collect_gpu(self, s: Scrape, nv: NvmlSession, index: int, handle: Any) -> None:
        """Add GPU ``index``'s samples to ``s``, asking NVML through ``nv.call``."""

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
