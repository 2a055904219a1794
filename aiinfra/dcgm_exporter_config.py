"""dcgm-exporter's counters file and the GPU Operator values that point dcgm-exporter at it.

Shared by the network setup (``aiinfra net deploy`` installs the GPU Operator, whose dcgm-exporter reads the file)
and the monitoring (its alerts and dashboards use the fields the file adds), so it sits below both. Pure data.

Example:
    >>> config = dcgm_exporter_values()["dcgmExporter"]["config"]
    >>> config["name"], config["create"], config["data"].count("DCGM_FI_DEV_ROW_REMAP_PENDING")
    ('aiinfra-dcgm-metrics', True, 1)
"""

from __future__ import annotations

from typing import Any

DCGM_CONFIGMAP = "aiinfra-dcgm-metrics"
"""The counters ConfigMap the GPU Operator chart creates in its namespace."""

# dcgm-exporter counters: its default set (etc/default-counters.csv) plus what it leaves out.
DCGM_COUNTERS = """\
# DCGM FIELD, Prometheus metric type, help message (rendered by aiinfra: dcgm-exporter defaults + health fields)
DCGM_FI_DEV_SM_CLOCK, gauge, SM clock frequency (in MHz).
DCGM_FI_DEV_MEM_CLOCK, gauge, Memory clock frequency (in MHz).
DCGM_FI_DEV_GPU_TEMP, gauge, GPU temperature (in C).
DCGM_FI_DEV_MEMORY_TEMP, gauge, Memory temperature (in C).
DCGM_FI_DEV_POWER_USAGE, gauge, Power draw (in W).
DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, counter, Total energy consumption since boot (in mJ).
DCGM_FI_DEV_PCIE_REPLAY_COUNTER, counter, Total number of PCIe retries.
DCGM_FI_DEV_GPU_UTIL, gauge, GPU utilization (in %).
DCGM_FI_DEV_MEM_COPY_UTIL, gauge, Memory utilization (in %).
DCGM_FI_DEV_FB_FREE, gauge, Framebuffer memory free (in MiB).
DCGM_FI_DEV_FB_USED, gauge, Framebuffer memory used (in MiB).
DCGM_FI_DEV_FB_RESERVED, gauge, Framebuffer memory reserved (in MiB).
DCGM_FI_PROF_GR_ENGINE_ACTIVE, gauge, Ratio of time the graphics engine is active.
DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, gauge, Ratio of cycles the tensor (HMMA) pipe is active.
DCGM_FI_PROF_DRAM_ACTIVE, gauge, Ratio of cycles the device memory interface is active sending or receiving data.
DCGM_FI_PROF_PCIE_TX_BYTES, counter, The number of bytes of active PCIe tx data including both header and payload.
DCGM_FI_PROF_PCIE_RX_BYTES, counter, The number of bytes of active PCIe rx data including both header and payload.
DCGM_FI_DRIVER_VERSION, label, Driver Version.
# Added by aiinfra: errors and health the default set leaves out.
DCGM_FI_DEV_XID_ERRORS, gauge, Value of the last XID error encountered.
DCGM_EXP_XID_ERRORS_COUNT, gauge, Count of XID errors within the user-specified time window.
DCGM_EXP_CLOCK_EVENTS_COUNT, gauge, Count of clock events within the user-specified time window.
DCGM_EXP_GPU_HEALTH_STATUS, gauge, GPU health status per DCGM health watch (0 pass, 10 warn, 20 fail).
DCGM_FI_DEV_CLOCKS_EVENT_REASONS, gauge, Current clock event (throttle) reasons bitmask.
DCGM_FI_DEV_ECC_SBE_VOL_TOTAL, counter, Total number of single-bit volatile ECC errors.
DCGM_FI_DEV_ECC_DBE_VOL_TOTAL, counter, Total number of double-bit volatile ECC errors.
DCGM_FI_DEV_ECC_SBE_AGG_TOTAL, counter, Total number of single-bit persistent ECC errors.
DCGM_FI_DEV_ECC_DBE_AGG_TOTAL, counter, Total number of double-bit persistent ECC errors.
DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS, counter, Number of remapped rows for uncorrectable errors.
DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS, counter, Number of remapped rows for correctable errors.
DCGM_FI_DEV_ROW_REMAP_FAILURE, gauge, Whether remapping of rows has failed.
DCGM_FI_DEV_ROW_REMAP_PENDING, gauge, Whether a row remap is pending (reset the GPU when drained).
DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL, counter, Total number of NVLink flow-control CRC errors.
DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL, counter, Total number of NVLink data CRC errors.
DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL, counter, Total number of NVLink retries.
DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL, counter, Total number of NVLink recovery errors.
DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL, counter, Total number of NVLink bandwidth counters for all lanes.
DCGM_FI_DEV_POWER_VIOLATION, counter, Throttling duration due to power constraints (in us).
DCGM_FI_DEV_THERMAL_VIOLATION, counter, Throttling duration due to thermal constraints (in us).
DCGM_FI_DEV_BOARD_LIMIT_VIOLATION, counter, Throttling duration due to board limit constraints (in us).
DCGM_FI_DEV_RELIABILITY_VIOLATION, counter, Throttling duration due to reliability constraints (in us).
"""


def dcgm_exporter_values() -> dict[str, Any]:
    """GPU Operator chart values: the chart creates the counters ConfigMap (``config.create``) and dcgm-exporter
    reads it, so the file travels with the release (the chart documents these keys in a values.yaml comment)."""
    return {
        "dcgmExporter": {
            "config": {"name": DCGM_CONFIGMAP, "create": True, "data": DCGM_COUNTERS},
            # 5 s instead of 30 s: health fields are worth little 30 s late (ServiceMonitor scrapes every 15 s).
            "env": [{"name": "DCGM_EXPORTER_INTERVAL", "value": "5000"}],
        }
    }
