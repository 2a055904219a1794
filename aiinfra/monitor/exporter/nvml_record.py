"""Record what a node's NVML answers for the GPU-health collectors (replayed by ReplayNvml).

Imports only the standard library and pynvml, so it runs on a bare GPU machine as
``python aiinfra/monitor/exporter/nvml_record.py > rec.json`` without installing aiinfra.
The recording extends discovery's format (aiinfra.node.gpu.record_nvml: name, pci_bus_id,
numa_node, nvlink_states) per GPU with ``uuid``, ``ecc_total``, ``memory_errors``,
``remapped_rows``, ``row_remapper_histogram``, ``nvlink_errors``, ``field_values``,
``violation_ns`` and ``pcie``. A value NVML answers NotSupported is left out (the replay
answers NotSupported for it); any other error is kept in ``errors`` by function name.

Example:
    >>> sorted(NVLINK_COUNTERS.values())[:2]
    ['crc_data', 'crc_flit']
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import pynvml

ERROR_TYPES = {0: "corrected", 1: "uncorrected"}  # NVML_MEMORY_ERROR_TYPE_*
ECC_COUNTERS = {0: "volatile", 1: "aggregate"}  # NVML_VOLATILE_ECC, NVML_AGGREGATE_ECC
LOCATIONS = {2: "dram", 7: "sram"}  # NVML_MEMORY_LOCATION_*: device memory and on-chip SRAM (Hopper reports these)
NVLINK_COUNTERS = {0: "replay", 1: "recovery", 2: "crc_flit", 3: "crc_data", 4: "ecc_data"}  # NVML_NVLINK_ERROR_DL_*
VIOLATIONS = {  # NVML_PERF_POLICY_*
    0: "power", 1: "thermal", 2: "sync_boost", 3: "board_limit", 4: "low_utilization", 5: "reliability",
    10: "total_app_clocks", 11: "total_base_clocks",
}  # fmt: skip
NVLINK_FIELDS = {  # NVML_FI_DEV_NVLINK_COUNT_* (Hopper and later), read per link (scopeId = link)
    206: "malformed_packet", 207: "buffer_overrun", 208: "rcv", 209: "rcv_remote", 210: "rcv_general",
    211: "local_link_integrity", 212: "xmit_discards", 214: "recovery_failed", 219: "effective", 221: "symbol",
}  # fmt: skip
MAX_LINKS = 18


class _Recorder:
    def __init__(self, nvml: Any, handle: Any) -> None:
        self.nvml, self.h = nvml, handle
        self.errors: dict[str, str] = {}

    def get(self, fn: str, *args: Any) -> Any:
        try:
            return getattr(self.nvml, fn)(self.h, *args)
        except pynvml.NVMLError as exc:
            if exc.value != pynvml.NVML_ERROR_NOT_SUPPORTED:
                self.errors[fn] = str(pynvml.nvmlErrorString(exc.value)).upper().replace(" ", "_")
            return None


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _gpu(nvml: Any, index: int) -> dict[str, Any]:
    r = _Recorder(nvml, nvml.nvmlDeviceGetHandleByIndex(index))
    numa = r.get("nvmlDeviceGetNumaNodeId")
    states = []
    for link in range(MAX_LINKS):
        try:
            states.append(int(nvml.nvmlDeviceGetNvLinkState(r.h, link) == pynvml.NVML_FEATURE_ENABLED))
        except pynvml.NVMLError:
            break
    g: dict[str, Any] = {
        "name": _text(nvml.nvmlDeviceGetName(r.h)),
        "pci_bus_id": _text(nvml.nvmlDeviceGetPciInfo(r.h).busId),
        "numa_node": numa if numa is not None and numa >= 0 else None,
        "nvlink_states": states,
        "uuid": _text(r.get("nvmlDeviceGetUUID")),
    }
    # The calls keep NVML's order (memory, then links, then clocks and PCIe): r.errors lists them so.
    g.update(_memory_counters(r))
    g.update(_link_counters(r, len(states)))
    viol = {
        n: v.violationTime for p, n in VIOLATIONS.items() if (v := r.get("nvmlDeviceGetViolationStatus", p)) is not None
    }
    pcie = {
        "generation": r.get("nvmlDeviceGetCurrPcieLinkGeneration"),
        "generation_max": r.get("nvmlDeviceGetGpuMaxPcieLinkGeneration"),
        "width": r.get("nvmlDeviceGetCurrPcieLinkWidth"),
        "width_max": r.get("nvmlDeviceGetMaxPcieLinkWidth"),
        "replay": r.get("nvmlDeviceGetPcieReplayCounter"),
    }
    g["violation_ns"] = viol
    g["pcie"] = {k: v for k, v in pcie.items() if v is not None}
    for key in ("ecc_total", "memory_errors", "nvlink_errors", "field_values", "violation_ns", "pcie"):
        if not g[key]:
            del g[key]  # nothing answered: the replay says NotSupported, as NVML did
    if r.errors:
        g["errors"] = r.errors
    return g


def _memory_counters(r: _Recorder) -> dict[str, Any]:
    """ECC totals, per-location memory errors, remapped rows and the row remapper histogram."""
    ecc = {
        f"{e}.{c}": r.get("nvmlDeviceGetTotalEccErrors", ei, ci)
        for ei, e in ERROR_TYPES.items()
        for ci, c in ECC_COUNTERS.items()
    }
    mem = {
        f"{e}.{c}.{loc}": r.get("nvmlDeviceGetMemoryErrorCounter", ei, ci, li)
        for ei, e in ERROR_TYPES.items() for ci, c in ECC_COUNTERS.items() for li, loc in LOCATIONS.items()
    }  # fmt: skip
    remap = r.get("nvmlDeviceGetRemappedRows")
    hist = r.get("nvmlDeviceGetRowRemapperHistogram")
    out: dict[str, Any] = {
        "ecc_total": {k: v for k, v in ecc.items() if v is not None},
        "memory_errors": {k: v for k, v in mem.items() if v is not None},
    }
    if remap is not None:
        out["remapped_rows"] = [int(x) for x in remap]
    if hist is not None:
        out["row_remapper_histogram"] = {k: int(getattr(hist, k)) for k in ("max", "high", "partial", "low", "none")}
    return out


def _link_counters(r: _Recorder, links: int) -> dict[str, Any]:
    """NVLink error counters per link and the NVLink field values (throughput, CRC and replay counts)."""
    nvl: dict[str, dict[str, int]] = {}
    for link in range(links):
        counts = {n: r.get("nvmlDeviceGetNvLinkErrorCounter", link, ci) for ci, n in NVLINK_COUNTERS.items()}
        nvl[str(link)] = {n: v for n, v in counts.items() if v is not None}
    fields: dict[str, int] = {}
    if links:
        values = r.get("nvmlDeviceGetFieldValues", [(f, link) for link in range(links) for f in NVLINK_FIELDS]) or []
        fields = {
            f"{v.fieldId}/{v.scopeId}": int(v.value.ullVal) for v in values if v.nvmlReturn == pynvml.NVML_SUCCESS
        }
    return {"nvlink_errors": {k: v for k, v in nvl.items() if v}, "field_values": fields}


def record_gpu_health(nvml: Any = None) -> dict[str, Any]:
    """A JSON-able recording of every GPU's health fields (see the module docstring)."""
    nvml = nvml if nvml is not None else pynvml
    nvml.nvmlInit()
    try:
        gpus = [_gpu(nvml, i) for i in range(nvml.nvmlDeviceGetCount())]
        return {"driver_version": _text(nvml.nvmlSystemGetDriverVersion()), "gpus": gpus, "xid_events": []}
    finally:
        nvml.nvmlShutdown()


if __name__ == "__main__":
    json.dump(record_gpu_health(), sys.stdout, indent=1)
    sys.stdout.write("\n")
