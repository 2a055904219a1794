"""Alerts on the network test's and benchmarks' findings: NCCL on sockets, a rail below target, a stale test.

The network test (``aiinfra net test``) writes these gauges as a Prometheus textfile that
node_exporter's textfile collector serves on each node (names in docs/alerts.md):

- ``aiinfra_fabric_test_nccl_socket_fallback{node}`` 1 when NCCL ran over sockets instead of IB/RoCE;
- ``aiinfra_fabric_test_rail_busbw_ratio{node,rail}`` measured / expected bandwidth of one rail;
- ``aiinfra_fabric_test_last_run_timestamp_seconds`` when the test last finished on the node.

Example:
    >>> from aiinfra.monitor.rules.findings import finding_alerts
    >>> from aiinfra.monitor.rules.thresholds import Thresholds
    >>> [a.name for a in finding_alerts(Thresholds())]
    ['FabricTestNcclOnSockets', 'FabricTestRailBelowTarget', 'FabricTestStale']
"""

from __future__ import annotations

from collections.abc import Callable

from aiinfra.monitor.rules import metrics as m
from aiinfra.monitor.rules.model import Alert, Case, Severity, alert_of
from aiinfra.monitor.rules.thresholds import Thresholds

_alert = alert_of("fabric-test")
_RAIL = 'node="gpu-1",rail="rail0"'
_WHO = {"node": "gpu-1", "rail": "rail0"}

_FINDING_ALERTS: tuple[Callable[[Thresholds], Alert], ...] = (
    lambda t: _alert(
        "FabricTestNcclOnSockets",
        f"{m.FABRIC_SOCKET} == 1",
        "0s",
        Severity.CRITICAL,
        "NCCL ran over sockets on {{ $labels.node }} in the fabric test",
        "The network test's NCCL run used the Socket transport instead of InfiniBand/RoCE: training on this "
        "node would run at a fraction of its bandwidth.",
        "The test's NCCL log (NCCL INFO NET/...); aiinfra node check on the node (RDMA devices in the pod, "
        "GPUDirect, NCCL_IB_HCA); the pod's rail resources.",
        "Fix the node or the pod spec the check names; rerun the fabric test.",
        "测试的 NCCL 日志 (NCCL INFO NET/...)；在节点上运行 aiinfra node check（Pod 内的 RDMA 设备、GPUDirect、"
        "NCCL_IB_HCA）；Pod 的 rail 资源。",
        "按检查结果修复节点或 Pod 配置；重新运行网络测试。",
        Case(((f'{m.FABRIC_SOCKET}{{node="gpu-1"}}', "1x10"),), "10s", ({"node": "gpu-1"},)),
        Case(((f'{m.FABRIC_SOCKET}{{node="gpu-1"}}', "0x10"),), "10s"),
    ),
    lambda t: _alert(
        "FabricTestRailBelowTarget",
        f"{m.FABRIC_RAIL_RATIO} < {t.fabric_rail_ratio}",
        "0s",
        Severity.WARNING,
        "Rail {{ $labels.rail }} of {{ $labels.node }} measured below "
        f"{t.fabric_rail_ratio:.0%} of its bandwidth",
        f"The fabric test measured this rail below {t.fabric_rail_ratio:.0%} of its expected bandwidth.",
        "IbRateDegraded and error alerts of the rail; ibstat; the test's per-peer results to tell the node's "
        "link from a far-end or switch problem.",
        "Fix the link (cable, optic, switch port); rerun the fabric test on the node.",
        "该 rail 的 IbRateDegraded 与错误类告警；ibstat；测试的逐对端结果，区分本节点链路与对端或交换机问题。",
        "修复链路（线缆、光模块、交换机端口）；对该节点重新运行网络测试。",
        Case(((f"{m.FABRIC_RAIL_RATIO}{{{_RAIL}}}", "0.6x10"),), "10s", (_WHO,)),
        Case(((f"{m.FABRIC_RAIL_RATIO}{{{_RAIL}}}", "0.95x10"),), "10s"),
    ),
    lambda t: _alert(
        "FabricTestStale",
        f"time() - {m.FABRIC_LAST_RUN} > {t.fabric_test_max_age_seconds}",
        "0s",
        Severity.INFO,
        "The fabric test has not run on {{ $labels.node }} for a week",
        "The network test's results on this node are old: a degraded rail may go unnoticed by counters.",
        "When the test last ran (aiinfra_fabric_test_last_run_timestamp_seconds); whether its schedule runs.",
        "Run aiinfra net test on the node (in a maintenance window if it is busy).",
        "测试上次运行的时间 (aiinfra_fabric_test_last_run_timestamp_seconds)；其定时任务是否在运行。",
        "在节点上运行 aiinfra net test（节点繁忙时在维护窗口进行）。",
        Case(
            ((f'{m.FABRIC_LAST_RUN}{{node="gpu-1"}}', f"{-t.fabric_test_max_age_seconds - 100}x10"),),
            "50s",
            ({"node": "gpu-1"},),
        ),
        Case(((f'{m.FABRIC_LAST_RUN}{{node="gpu-1"}}', f"{-t.fabric_test_max_age_seconds + 100}x10"),), "50s"),
    ),
)
"""One alert per entry, built from the thresholds (``finding_alerts``): the table of this module."""


def finding_alerts(t: Thresholds) -> list[Alert]:
    """Alerts on the fabric test's published results."""
    return [spec(t) for spec in _FINDING_ALERTS]

