"""mlx5 ``hw_counters`` that node_exporter does not export, under their kernel names.

node_exporter (v1.12.1, procfs v0.21) parses 29 of the files in
``<sysfs>/class/infiniband/<hca>/ports/<p>/hw_counters/``. Everything else there, notably
``req_transport_retries_exceeded`` and ``req_rnr_retries_exceeded`` (a QP gave up: NCCL
reports a timeout), comes from here, so each signal has exactly one source.

Example:
    >>> "rnr_nak_retry_err" in NODE_EXPORTER_HW_COUNTERS, "req_transport_retries_exceeded" in NODE_EXPORTER_HW_COUNTERS
    (True, False)
"""

from __future__ import annotations

from aiinfra.monitor.exporter.metrics import Scrape, counter
from aiinfra.monitor.exporter.registry import ExporterConfig, register

HW_COUNTER = counter(
    "aiinfra_infiniband_hw_events_total",
    "mlx5 hw_counters file node_exporter does not export, by kernel name.",
    "device", "port", "counter",
)  # fmt: skip

# The files node_exporter's infiniband collector reads (procfs sysfs/class_infiniband.go
# parseHwCounters); 'lifespan' is its refresh period, not a counter.
NODE_EXPORTER_HW_COUNTERS = frozenset(
    """
    duplicate_request implied_nak_seq_err lifespan local_ack_timeout_err np_cnp_sent
    np_ecn_marked_roce_packets out_of_buffer out_of_sequence packet_seq_err req_cqe_error
    req_cqe_flush_error req_remote_access_errors req_remote_invalid_request resp_cqe_error
    resp_cqe_flush_error resp_local_length_error resp_remote_access_errors rnr_nak_retry_err
    roce_adp_retrans roce_adp_retrans_to roce_slow_restart roce_slow_restart_cnps
    roce_slow_restart_trans rp_cnp_handled rp_cnp_ignored rx_atomic_requests rx_dct_connect
    rx_icrc_encapsulated rx_read_requests rx_write_requests
    """.split()
)


@register
class HwCountersCollector:
    name = "infiniband_hw_counters"

    def __init__(self, config: ExporterConfig) -> None:
        self.base = config.sysfs / "class" / "infiniband"

    def collect(self, s: Scrape) -> None:
        for hca in s.listdir(self.base):
            ports = self.base / hca / "ports"
            for port in s.listdir(ports):
                hw = ports / port / "hw_counters"
                for name in s.listdir(hw):
                    if name in NODE_EXPORTER_HW_COUNTERS:
                        continue
                    s.add(HW_COUNTER, s.integer(hw / name), device=hca, port=port, counter=name)

    def close(self) -> None:
        pass
