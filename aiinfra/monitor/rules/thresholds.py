"""Every number the alert rules use, in one place.

The rules read thresholds from a :class:`Thresholds`; nothing else in ``aiinfra.monitor.rules``
holds a limit, a duration or a PromQL range window (``[10m]``, ``offset 1h``). Intervals are
chosen so that a dead link or a fatal XID fires within 30 s: scrape every 5 s, evaluate every
5 s, hold ``for`` 10 s.

Example:
    >>> from aiinfra.monitor.rules.thresholds import Thresholds
    >>> Thresholds().fast_for
    '10s'
    >>> Thresholds(pcie_replay_window="30m").windows()["pcie_replay_window"]
    '30m'
    >>> Thresholds(gpu_temp_celsius=80).gpu_temp_celsius
    80
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

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


def duration_words(window: str, *, article: bool = True) -> str:
    """A window as alert texts say it; a compound duration (``1h30m``) stays as it is.

    >>> duration_words("10m"), duration_words("1h"), duration_words("1h", article=False)
    ('10 minutes', 'an hour', 'hour')
    """
    match = re.fullmatch(r"(\d+)([smhd])", window)
    if not match:
        return window
    number, unit = int(match[1]), {"s": "second", "m": "minute", "h": "hour", "d": "day"}[match[2]]
    if number != 1:
        return f"{number} {unit}s"
    if not article:
        return unit
    return f"{'an' if unit == 'hour' else 'a'} {unit}"


@dataclass(frozen=True)
class Thresholds:
    """Limits, durations and range windows of every alert; override a field to tune one cluster.

    A field ending in ``_window`` is a PromQL range window (``increase(x[w])``, ``offset w``). A count
    limit (``*_per_window``) is paired with its own window because the count means "per that window";
    a per-second limit (``*_per_second``, a fraction) is averaged over a shared rate window.
    """

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

    # Range windows shared by several alerts.
    burst_rate_window: str = "1m"
    """Rate window of signals that matter within a minute (thermal-throttle fraction, symbol-error bursts):
    twelve samples at the 5 s scrape, short enough that a burst is not averaged away."""
    rate_window: str = "5m"
    """Rate window of per-second alerts on a sustained level (IB receive errors, PortXmitWait, RDMA retries,
    CNPs): five minutes averages out a single burst, and the alerts hold ``slow_for``/``settle_for`` on top."""
    event_window: str = "10m"
    """How long one increment of a counter that should never move (IB link downed, link integrity or
    buffer overrun, RDMA retries exceeded) keeps its 0 s alert firing: long enough to be seen and routed."""

    xid_window: str = "1h"
    """A fatal XID keeps its alert this long after the last event (the node should be cordoned by then)."""
    app_xid_window: str = "10m"
    """An application XID keeps its alert this long: enough to find the pod; the GPU itself is fine."""
    uncorrectable_rows_window: str = "1h"
    """Remapped rows above their minimum over this window count as growth, so one remap fires for one window."""
    gpu_temp_celsius: int = 85
    gpu_memory_temp_celsius: int = 95
    throttle_fraction: float = 0.05
    """Fraction of time a GPU may spend in hardware thermal slowdown, averaged over ``burst_rate_window``."""
    sbe_window: str = "1h"
    """Corrected (single-bit) ECC errors are counted over an hour: a storm is a rate sustained for many minutes."""
    sbe_per_window: int = 100
    pcie_replay_window: str = "10m"
    """PCIe replays are counted over ten minutes: an isolated replay stays under the limit, a steady trickle not."""
    pcie_replays_per_window: int = 10
    nvlink_error_window: str = "10m"
    """NVLink errors are counted over ten minutes, so one error keeps the alert that long."""
    nvlink_errors_per_window: int = 0
    health_warn: int = 10
    health_fail: int = 20

    ib_symbol_error_window: str = "1h"
    """Symbol errors are counted per hour because NVSentinel's limit below is stated per hour."""
    ib_symbol_errors_per_window: int = 120
    """NVSentinel's fatal threshold (IBTA BER 1e-12 at HDR/NDR rates)."""
    ib_symbol_errors_per_second: float = 10.0
    ib_link_recovery_window: str = "5m"
    """Link error recoveries are counted over five minutes: several within that span point at a marginal cable."""
    ib_link_recoveries_per_window: int = 5
    ib_xmit_wait_per_second: float = 1e6
    """PortXmitWait ticks per second counted as congestion (tick length depends on the HCA)."""
    rdma_retries_per_second: float = 1.0
    rdma_cnp_per_second: float = 1000.0

    bond_flap_window: str = "15m"
    """Bond member link failures are counted over fifteen minutes: repeated failures, not one re-plug, flap."""
    bond_flaps_per_window: int = 2

    exporter_stale_window: str = "2m"
    """An exporter whose values stop changing this long is stale (dcgm-exporter repeats old samples)."""
    scrape_duration_fraction: float = 0.8
    """Scrape duration over this fraction of the scrape timeout means the next one may time out."""
    scrape_timeout_seconds: float = 4.0

    ray_restart_window: str = "15m"
    """A Ray worker restart keeps its 0 s alert this long: the slow groups evaluate every 30 s, and a restart
    costs the job far longer than that."""

    fabric_rail_ratio: float = 0.9
    """A rail below this fraction of its expected bus bandwidth in the fabric test fires."""
    fabric_test_max_age_seconds: int = 7 * 24 * 3600

    def windows(self) -> dict[str, str]:
        """The range windows (fields ending in ``_window``, not the ``_per_window`` limits) by field name.

        >>> Thresholds().windows()["event_window"]
        '10m'
        """
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name.endswith("_window") and not f.name.endswith("_per_window")
        }
