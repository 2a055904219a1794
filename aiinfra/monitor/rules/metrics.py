"""Every metric and job name the rules and dashboards read, by source.

One place to rename when an exporter renames: node_exporter and dcgm-exporter names are
upstream's; ``aiinfra_*`` names are the aiinfra exporter's (docs/monitoring-metrics.md);
``aiinfra_fabric_test_*`` are written by the network test (documented in docs/alerts.md).

Example:
    >>> from aiinfra.monitor.rules import metrics
    >>> metrics.IB_STATE
    'node_infiniband_state_id'
"""

from __future__ import annotations

from aiinfra.contract import FABRIC_LAST_RUN_METRIC, FABRIC_RAIL_RATIO_METRIC, FABRIC_SOCKET_METRIC

# Scrape jobs (the `job` label Prometheus sets from each Service / PodMonitor).
JOB_NODE_EXPORTER = "node-exporter"
JOB_DCGM = "nvidia-dcgm-exporter"
JOB_AIINFRA = "aiinfra-exporter"
JOB_KUBERAY = "kuberay-operator"
JOB_RAY = "aiinfra-ray"

# node_exporter: infiniband, bonding, netclass collectors.
IB_STATE = "node_infiniband_state_id"
IB_PHYS_STATE = "node_infiniband_physical_state_id"
IB_RATE = "node_infiniband_rate_bytes_per_second"
IB_LINK_DOWNED = "node_infiniband_link_downed_total"
IB_LINK_RECOVERY = "node_infiniband_link_error_recovery_total"
IB_SYMBOL_ERRORS = "node_infiniband_symbol_error_total"
IB_INTEGRITY = "node_infiniband_local_link_integrity_errors_total"
IB_OVERRUN = "node_infiniband_excessive_buffer_overrun_errors_total"
IB_RCV_ERRORS = "node_infiniband_port_errors_received_total"
IB_RCV_REMOTE_PHYS = "node_infiniband_port_receive_remote_physical_errors_total"
IB_XMIT_WAIT = "node_infiniband_port_transmit_wait_total"
IB_DATA_RX = "node_infiniband_port_data_received_bytes_total"
IB_DATA_TX = "node_infiniband_port_data_transmitted_bytes_total"
RDMA_ACK_TIMEOUT = "node_infiniband_local_ack_timeout_errors_total"
RDMA_SEQ_ERRORS = "node_infiniband_packet_sequence_errors_total"
RDMA_RNR_NAK = "node_infiniband_rnr_nak_retry_packets_received_total"
RDMA_CNP_HANDLED = "node_infiniband_rp_cnp_packets_handled_total"
RDMA_CNP_SENT = "node_infiniband_np_cnp_packets_sent_total"
BOND_SLAVES = "node_bonding_slaves"
BOND_ACTIVE = "node_bonding_active"
NET_CARRIER_CHANGES = "node_network_carrier_changes_total"
NET_UP = "node_network_up"
UNAME = "node_uname_info"

# dcgm-exporter (our counters file enables the fields its default leaves out).
DCGM_TEMP = "DCGM_FI_DEV_GPU_TEMP"
DCGM_MEM_TEMP = "DCGM_FI_DEV_MEMORY_TEMP"
DCGM_POWER = "DCGM_FI_DEV_POWER_USAGE"
DCGM_ENERGY = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
DCGM_UTIL = "DCGM_FI_DEV_GPU_UTIL"
DCGM_FB_USED = "DCGM_FI_DEV_FB_USED"
DCGM_SM_CLOCK = "DCGM_FI_DEV_SM_CLOCK"
DCGM_TENSOR_ACTIVE = "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"
DCGM_PCIE_REPLAY = "DCGM_FI_DEV_PCIE_REPLAY_COUNTER"
DCGM_DBE_VOL = "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"
DCGM_SBE_VOL = "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL"
DCGM_ROW_REMAP_FAILURE = "DCGM_FI_DEV_ROW_REMAP_FAILURE"
DCGM_UNCORRECTABLE_ROWS = "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS"
DCGM_THERMAL_VIOLATION = "DCGM_FI_DEV_THERMAL_VIOLATION"
DCGM_HEALTH = "DCGM_EXP_GPU_HEALTH_STATUS"
DCGM_NVLINK_BANDWIDTH = "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL"

# The aiinfra exporter (docs/monitoring-metrics.md, port 9835).
XID = "aiinfra_gpu_xid_errors_total"
XID_WATCH_UP = "aiinfra_gpu_xid_watch_up"
GPU_INFO = "aiinfra_gpu_info"
ROW_REMAP_PENDING = "aiinfra_gpu_row_remap_pending"
ROW_REMAP_FAILURE = "aiinfra_gpu_row_remap_failure"
NVLINK_STATE = "aiinfra_gpu_nvlink_up"
NVLINK_EXPECTED = "aiinfra_gpu_nvlink_links_expected"
NVLINK_ERRORS = "aiinfra_gpu_nvlink_errors_total"
GPU_VIOLATION = "aiinfra_gpu_violation_seconds_total"
GPU_PCIE_DOWNTRAINED = "aiinfra_gpu_pcie_link_downtrained"
GPU_PCIE_WIDTH = "aiinfra_gpu_pcie_link_width"
GPU_PCIE_GEN = "aiinfra_gpu_pcie_link_generation"
IB_DOWNSHIFT = "aiinfra_infiniband_port_downshift"
IB_RAIL_PRESENT = "aiinfra_infiniband_rail_present"
IB_PORT_INFO = "aiinfra_infiniband_port_info"
IB_EXPECTED_RATE = "aiinfra_infiniband_port_expected_rate_bytes_per_second"
IB_HW_COUNTER = "aiinfra_infiniband_hw_events_total"
BOND_PRESENT = "aiinfra_bond_present"
BOND_PARTNER_MAC_ZERO = "aiinfra_bond_partner_mac_zero"
BOND_SLAVE_MII_UP = "aiinfra_bond_slave_mii_up"
BOND_AGGREGATOR_MISMATCH = "aiinfra_bond_slave_aggregator_mismatch"
BOND_CHURN = "aiinfra_bond_slave_churned"
BOND_LINK_FAILURES = "aiinfra_bond_slave_link_failures_total"
COLLECTOR_SUCCESS = "aiinfra_collector_success"
CONFORMANCE = "aiinfra_node_check_pass"

# dcgm-exporter's synthetic clock-event count (decoded throttle reasons, 5 min window).
DCGM_CLOCK_EVENTS = "DCGM_EXP_CLOCK_EVENTS_COUNT"

# The network test (aiinfra net test) writes these; docs/alerts.md defines them.
FABRIC_SOCKET = FABRIC_SOCKET_METRIC
FABRIC_RAIL_RATIO = FABRIC_RAIL_RATIO_METRIC
FABRIC_LAST_RUN = FABRIC_LAST_RUN_METRIC

# KubeRay operator (--metrics-addr with --enable-metrics; KubeRay >= 1.4) and Ray's own metrics port.
KUBERAY_CLUSTER_INFO = "kuberay_cluster_info"
KUBERAY_PROVISIONED = "kuberay_cluster_condition_provisioned"
RAY_NODE_CPU_UTIL = "ray_node_cpu_utilization"
RAY_NODE_MEM_USED = "ray_node_mem_used"
RAY_NODE_GPUS_UTIL = "ray_node_gpus_utilization"
RAY_NODE_NET_SEND = "ray_node_network_send_speed"
RAY_TASKS = "ray_tasks"
PROCESS_START = "process_start_time_seconds"
"""Start time of the scraped process; on a Ray pod's metrics port, its Ray node's metrics agent."""
KSM_NODE_READY = "kube_node_status_condition"
