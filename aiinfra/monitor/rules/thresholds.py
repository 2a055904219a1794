"""Every number the alert rules use, in one place.

The rules read thresholds from a :class:`Thresholds`; nothing else in ``aiinfra.monitor.rules``
holds a limit or a duration. Intervals are chosen so that a dead link or a fatal XID fires
within 30 s: scrape every 5 s, evaluate every 5 s, hold ``for`` 10 s.

Example:
    >>> from aiinfra.monitor.rules.thresholds import Thresholds
    >>> Thresholds().fast_for
    '10s'
    >>> Thresholds(gpu_temp_celsius=80).gpu_temp_celsius
    80
"""

from __future__ import annotations

from dataclasses import dataclass

# NVIDIA's XID catalog, "Resolution Bucket (Immediate Action)"
# (docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html).
# RESET_GPU, RESTART_BM and WORKFLOW_XID_48 (double-bit ECC): the GPU cannot be trusted until reset/reboot.
XID_FATAL = (46, 48, 62, 64, 79, 95, 109, 110, 119, 120, 136, 140, 143, 155, 156, 158, 160)
# WORKFLOW_NVLINK(5)_ERR: drain, then the NVLink/NVSwitch workflow.
XID_NVLINK = (74, 144, 145, 146, 147, 148, 149, 150)
# RESTART_APP / IGNORE: the application dies, the GPU is fine (k8s-device-plugin skips 13, 31, 43, 45, 68).
XID_APPLICATION = (8, 11, 13, 25, 31, 32, 43, 45, 63, 68, 69, 92, 94, 121, 137)


def xid_regex(xids: tuple[int, ...]) -> str:
    """A PromQL regex matching exactly these XIDs as label values.

    >>> xid_regex((13, 31))
    '13|31'
    """
    return "|".join(str(x) for x in xids)


@dataclass(frozen=True)
class Thresholds:
    """Limits and durations of every alert; override a field to tune one cluster."""

    scrape_interval: str = "5s"
    """Scrape interval of the node-side exporters (node_exporter, dcgm-exporter, aiinfra exporter)."""
    evaluation_interval: str = "5s"
    """Rule evaluation interval of the fast groups (GPU, InfiniBand, bond, exporters)."""
    slow_evaluation_interval: str = "30s"
    """Rule evaluation interval of the Ray and fabric-test groups."""
    fast_for: str = "10s"
    """Hold time of link-down and node-level alerts: two evaluations, so one bad scrape does not page."""
    settle_for: str = "1m"
    """Hold time of degradations that can show briefly during link training or a reset."""
    slow_for: str = "5m"
    """Hold time of trends (temperature, throttling, congestion)."""
    ray_for: str = "2m"
    """Hold time of Ray/KubeRay alerts: pods take this long to start and pass probes."""
    ray_provision_for: str = "10m"
    """A RayCluster may take this long to provision (large GPU images pull for minutes)."""

    xid_window: str = "1h"
    """A fatal XID keeps its alert this long after the last event (the node should be cordoned by then)."""
    app_xid_window: str = "10m"
    gpu_temp_celsius: int = 85
    gpu_memory_temp_celsius: int = 95
    throttle_fraction: float = 0.05
    """Fraction of time a GPU may spend in hardware thermal or power-brake slowdown."""
    sbe_per_hour: int = 100
    pcie_replays_per_10m: int = 10
    nvlink_errors_per_10m: int = 0
    health_warn: int = 10
    health_fail: int = 20

    ib_symbol_errors_per_hour: int = 120
    """NVSentinel's fatal threshold (IBTA BER 1e-12 at HDR/NDR rates)."""
    ib_symbol_errors_per_second: float = 10.0
    ib_link_recoveries_per_5m: int = 5
    ib_xmit_wait_per_second: float = 1e6
    """PortXmitWait ticks per second counted as congestion (tick length depends on the HCA)."""
    rdma_retries_per_second: float = 1.0
    rdma_cnp_per_second: float = 1000.0

    bond_flaps_per_15m: int = 2

    exporter_stale_after: str = "2m"
    """An exporter whose values stop changing this long is stale (dcgm-exporter repeats old samples)."""
    scrape_duration_fraction: float = 0.8
    """Scrape duration over this fraction of the scrape timeout means the next one may time out."""
    scrape_timeout_seconds: float = 4.0

    fabric_rail_ratio: float = 0.9
    """A rail below this fraction of its expected bus bandwidth in the fabric test fires."""
    fabric_test_max_age_seconds: int = 7 * 24 * 3600
