"""Replay of a GPU-health recording through the pynvml functions the GPU collectors call.

Extends :class:`aiinfra.node.gpu.RecordedNvml` (discovery's recording: names, bus ids,
NVLink states) with the health fields :func:`aiinfra.monitor.exporter.nvml_record.record_gpu_health`
writes. A field missing from the recording answers NotSupported, as NVML does for a
field the GPU lacks; ``errors`` maps a function name to another NVML error name, and
top-level ``xid_events`` ([{"gpu": 0, "xid": 79}]) are delivered through the event API.

Example:
    >>> nvml = ReplayNvml({"gpus": [{"name": "G", "pci_bus_id": "00000000:01:00.0", "remapped_rows": [0, 1, 1, 0]}]})
    >>> nvml.nvmlInit(); nvml.nvmlDeviceGetRemappedRows(0)
    (0, 1, 1, 0)
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, NoReturn

from aiinfra.monitor.exporter.nvml_record import ECC_COUNTERS, ERROR_TYPES, LOCATIONS, NVLINK_COUNTERS, VIOLATIONS
from aiinfra.node.gpu import RecordedNvml

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import pynvml


@dataclass
class _Histogram:
    max: int
    high: int
    partial: int
    low: int
    none: int


@dataclass
class _Violation:
    referenceTime: int
    violationTime: int


@dataclass
class _Event:
    device: int
    eventType: int
    eventData: int


@dataclass
class _FieldValue:
    fieldId: int
    scopeId: int
    nvmlReturn: int
    value: Any


@dataclass
class _Value:
    ullVal: int


def _raise(name: str = "NOT_SUPPORTED") -> NoReturn:
    raise pynvml.NVMLError(getattr(pynvml, f"NVML_ERROR_{name}", pynvml.NVML_ERROR_UNKNOWN))


class ReplayNvml(RecordedNvml):
    """RecordedNvml plus ECC, row remapping, NVLink errors, violations, PCIe and XID events."""

    def __init__(self, recording: dict[str, Any]) -> None:
        super().__init__(recording)
        self._events = list(recording.get("xid_events", []))
        self._event_lock = threading.Lock()

    def _get(self, handle: int, key: str, fn: str) -> Any:
        gpu = self._gpus[handle]
        err = gpu.get("errors", {}).get(fn)
        if err:
            _raise(err)
        if key not in gpu:
            _raise()
        return gpu[key]

    def _lookup(self, table: Any, *keys: str | int) -> Any:
        for k in keys:
            if not isinstance(table, dict) or str(k) not in table:
                _raise()
            table = table[str(k)]
        return table

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return str(self._get(handle, "uuid", "nvmlDeviceGetUUID"))

    def nvmlDeviceGetTotalEccErrors(self, handle: int, error_type: int, counter_type: int) -> int:
        ecc = self._get(handle, "ecc_total", "nvmlDeviceGetTotalEccErrors")
        return int(self._lookup(ecc, f"{ERROR_TYPES[error_type]}.{ECC_COUNTERS[counter_type]}"))

    def nvmlDeviceGetMemoryErrorCounter(self, handle: int, error_type: int, counter_type: int, location: int) -> int:
        table = self._get(handle, "memory_errors", "nvmlDeviceGetMemoryErrorCounter")
        key = f"{ERROR_TYPES[error_type]}.{ECC_COUNTERS[counter_type]}.{LOCATIONS[location]}"
        return int(self._lookup(table, key))

    def nvmlDeviceGetRemappedRows(self, handle: int) -> tuple[int, int, int, int]:
        corr, unc, pending, failure = self._get(handle, "remapped_rows", "nvmlDeviceGetRemappedRows")
        return int(corr), int(unc), int(pending), int(failure)

    def nvmlDeviceGetRowRemapperHistogram(self, handle: int) -> _Histogram:
        return _Histogram(**self._get(handle, "row_remapper_histogram", "nvmlDeviceGetRowRemapperHistogram"))

    def nvmlDeviceGetNvLinkErrorCounter(self, handle: int, link: int, counter: int) -> int:
        table = self._get(handle, "nvlink_errors", "nvmlDeviceGetNvLinkErrorCounter")
        return int(self._lookup(table, link, NVLINK_COUNTERS[counter]))

    def nvmlDeviceGetFieldValues(self, handle: int, field_ids: list[tuple[int, int]]) -> list[_FieldValue]:
        table = self._get(handle, "field_values", "nvmlDeviceGetFieldValues")
        out = []
        for fid, scope in field_ids:
            v = table.get(f"{fid}/{scope}")
            ret = pynvml.NVML_SUCCESS if v is not None else pynvml.NVML_ERROR_NOT_SUPPORTED
            out.append(_FieldValue(fid, scope, ret, _Value(int(v or 0))))
        return out

    def nvmlDeviceGetViolationStatus(self, handle: int, policy: int) -> _Violation:
        table = self._get(handle, "violation_ns", "nvmlDeviceGetViolationStatus")
        return _Violation(0, int(self._lookup(table, VIOLATIONS[policy])))

    def _pcie(self, handle: int, key: str, fn: str) -> int:
        return int(self._lookup(self._get(handle, "pcie", fn), key))

    def nvmlDeviceGetCurrPcieLinkGeneration(self, handle: int) -> int:
        return self._pcie(handle, "generation", "nvmlDeviceGetCurrPcieLinkGeneration")

    def nvmlDeviceGetGpuMaxPcieLinkGeneration(self, handle: int) -> int:
        return self._pcie(handle, "generation_max", "nvmlDeviceGetGpuMaxPcieLinkGeneration")

    def nvmlDeviceGetCurrPcieLinkWidth(self, handle: int) -> int:
        return self._pcie(handle, "width", "nvmlDeviceGetCurrPcieLinkWidth")

    def nvmlDeviceGetMaxPcieLinkWidth(self, handle: int) -> int:
        return self._pcie(handle, "width_max", "nvmlDeviceGetMaxPcieLinkWidth")

    def nvmlDeviceGetPcieReplayCounter(self, handle: int) -> int:
        return self._pcie(handle, "replay", "nvmlDeviceGetPcieReplayCounter")

    # XID events: the recorded list is delivered once, then every wait times out.

    def nvmlEventSetCreate(self) -> object:
        return object()

    def nvmlDeviceRegisterEvents(self, handle: int, event_types: int, event_set: object) -> None:
        err = self._gpus[handle].get("errors", {}).get("nvmlDeviceRegisterEvents")
        if err:
            _raise(err)

    def nvmlEventSetWait_v2(self, event_set: object, timeout_ms: int) -> _Event:
        with self._event_lock:
            event = self._events.pop(0) if self._events else None
        if event is None:
            time.sleep(min(timeout_ms, 20) / 1000)
            _raise("TIMEOUT")
        return _Event(int(event["gpu"]), pynvml.nvmlEventTypeXidCriticalError, int(event["xid"]))

    def nvmlDeviceGetIndex(self, handle: int) -> int:
        return int(handle)

    def nvmlEventSetFree(self, event_set: object) -> None:
        pass

    def inject_xid(self, gpu: int, xid: int) -> None:
        """Queue one more XID event (tests: XIDs cannot be provoked on a healthy GPU)."""
        with self._event_lock:
            self._events.append({"gpu": gpu, "xid": xid})
