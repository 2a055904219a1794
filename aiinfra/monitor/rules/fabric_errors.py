"""InfiniBand/RDMA error-counter alerts: link downed, symbol errors, integrity, retries, congestion.

Example:
    >>> from aiinfra.monitor.rules.fabric_errors import error_alerts
    >>> from aiinfra.monitor.rules.thresholds import Thresholds
    >>> "IbLinkDowned" in [a.name for a in error_alerts(Thresholds(), "mlx5_0", "mlx5_0")]
    True
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from aiinfra.monitor.rules import metrics as m
from aiinfra.monitor.rules.model import Alert, Case, Severity, alert_of
from aiinfra.monitor.rules.promql import sel
from aiinfra.monitor.rules.thresholds import Thresholds, duration_words

_alert = alert_of("infiniband")


def _error_series(devices: str, hca: str) -> SimpleNamespace:
    """The selector and the test series the alerts below share."""
    return SimpleNamespace(
        devices=devices, port=f'node="gpu-1",device="{hca}",port="1"', who={"node": "gpu-1", "device": hca, "port": "1"}
    )


def _sel(w: SimpleNamespace, metric: str) -> str:
    return sel(metric, device="~" + w.devices)


def _case_pair(w: SimpleNamespace, metric: str, bad: str, good: str, at: str) -> tuple[Case, Case]:
    return (Case(((f"{metric}{{{w.port}}}", bad),), at, (w.who,)), Case(((f"{metric}{{{w.port}}}", good),), at))


_ERROR_ALERTS: tuple[Callable[..., Alert], ...] = (
    lambda t, devices, hca, w: _alert(
        "IbLinkDowned",
        f"increase({_sel(w, m.IB_LINK_DOWNED)}[{t.event_window}]) > 0",
        "0s",
        Severity.CRITICAL,
        "InfiniBand {{ $labels.device }} port {{ $labels.port }} on {{ $labels.node }} went down and retrained",
        "The link-downed counter grew: the link failed at least once; NCCL connections over it broke.",
        "ibstat; perfquery -x for LinkDownedCounter; the switch port's counters; dmesg for mlx5 port events.",
        "Treat like a port down: reseat or replace the cable if it repeats; drain the node if jobs failed.",
        "ibstat；perfquery -x 查看 LinkDownedCounter；交换机端口计数；dmesg 中的 mlx5 端口事件。",
        "按端口断开处理：重复出现则重新插拔或更换线缆；若作业失败则驱逐节点。",
        *_case_pair(w, m.IB_LINK_DOWNED, "2 2 3x10", "2x200", "15s"),
    ),
    lambda t, devices, hca, w: _alert(
        "IbLinkFlapping",
        f"increase({_sel(w, m.IB_LINK_RECOVERY)}[{t.ib_link_recovery_window}]) > {t.ib_link_recoveries_per_window}",
        "0s",
        Severity.WARNING,
        "InfiniBand {{ $labels.device }} port {{ $labels.port }} on {{ $labels.node }} keeps recovering its link",
        f"More than {t.ib_link_recoveries_per_window} link error recoveries in "
        f"{duration_words(t.ib_link_recovery_window)}: a marginal cable or optic.",
        "perfquery -x (LinkErrorRecoveryCounter, SymbolErrorCounter); mlxlink -d <pci> -m for optics "
        "power and temperature.",
        "Replace the cable or transceiver at the next drain.",
        "perfquery -x（LinkErrorRecoveryCounter、SymbolErrorCounter）；mlxlink -d <pci> -m 查看光功率与温度。",
        "在下次驱逐时更换线缆或光模块。",
        *_case_pair(w, m.IB_LINK_RECOVERY, "0+2x20", "0x3 1x20", "30s"),
    ),
    lambda t, devices, hca, w: _alert(
        "IbSymbolErrorBurst",
        f"rate({_sel(w, m.IB_SYMBOL_ERRORS)}[{t.burst_rate_window}]) > {t.ib_symbol_errors_per_second}",
        t.fast_for,
        Severity.WARNING,
        "Symbol error burst on InfiniBand {{ $labels.device }} port {{ $labels.port }} of {{ $labels.node }}",
        f"More than {t.ib_symbol_errors_per_second:g} symbol errors per second: FEC is close to exhaustion.",
        "perfquery -x; mlxlink -d <pci> -c for pre/post-FEC BER; the far end's counters.",
        "Replace the cable or transceiver; drain the node if IbSymbolErrorsHigh follows.",
        "perfquery -x；mlxlink -d <pci> -c 查看 FEC 前后误码率；对端计数。",
        "更换线缆或光模块；若随后出现 IbSymbolErrorsHigh 则驱逐节点。",
        *_case_pair(w, m.IB_SYMBOL_ERRORS, "0+100x20", "0+5x20", "60s"),
    ),
    lambda t, devices, hca, w: _alert(
        "IbSymbolErrorsHigh",
        f"increase({_sel(w, m.IB_SYMBOL_ERRORS)}[{t.ib_symbol_error_window}]) > {t.ib_symbol_errors_per_window}",
        "0s",
        Severity.CRITICAL,
        "InfiniBand {{ $labels.device }} port {{ $labels.port }} on {{ $labels.node }} exceeds the BER limit",
        f"More than {t.ib_symbol_errors_per_window} symbol errors in {duration_words(t.ib_symbol_error_window)} "
        "(the IBTA 1e-12 BER limit).",
        "perfquery -x; mlxlink -d <pci> -c for BER; whether other ports on the same switch count errors.",
        "Drain the node; replace the cable or transceiver; run the fabric test before returning it.",
        "perfquery -x；mlxlink -d <pci> -c 查看误码率；同一交换机上的其他端口是否也在计错。",
        "驱逐节点；更换线缆或光模块；恢复前运行网络测试。",
        *_case_pair(w, m.IB_SYMBOL_ERRORS, "0+50x20", "0+1x20", "60s"),
    ),
    lambda t, devices, hca, w: _alert(
        "IbLinkIntegrityErrors",
        f"increase({_sel(w, m.IB_INTEGRITY)}[{t.event_window}]) > 0 "
        f"or increase({_sel(w, m.IB_OVERRUN)}[{t.event_window}]) > 0",
        "0s",
        Severity.CRITICAL,
        "Link integrity or buffer overrun errors on InfiniBand {{ $labels.device }} port {{ $labels.port }} "
        "of {{ $labels.node }}",
        "Local link integrity or excessive buffer overrun errors: the lossless contract of the link is broken.",
        "perfquery -x (LocalLinkIntegrityErrors, ExcessiveBufferOverrunErrors); the switch port's VL and "
        "credit configuration.",
        "Drain; replace the cable; check the switch port configuration (VL arbitration, MTU).",
        "perfquery -x（LocalLinkIntegrityErrors、ExcessiveBufferOverrunErrors）；交换机端口的 VL 与信用配置。",
        "驱逐节点；更换线缆；检查交换机端口配置（VL 仲裁、MTU）。",
        *_case_pair(w, m.IB_INTEGRITY, "0 0 1x10", "0x10", "15s"),
    ),
    lambda t, devices, hca, w: _alert(
        "IbReceiveErrors",
        f"rate({_sel(w, m.IB_RCV_ERRORS)}[{t.rate_window}]) > 0 "
        f"or rate({_sel(w, m.IB_RCV_REMOTE_PHYS)}[{t.rate_window}]) > 0",
        t.slow_for,
        Severity.WARNING,
        "Receive errors on InfiniBand {{ $labels.device }} port {{ $labels.port }} of {{ $labels.node }}",
        "Packets arrive corrupted (PortRcvErrors or remote physical errors): a bad cable or a failing "
        "transmitter at the far end.",
        "perfquery -x on this port and on the switch port at the other end of the cable.",
        "Replace the cable; if errors continue, the switch port or far-end transceiver.",
        "在本端口及线缆对端交换机端口上运行 perfquery -x。",
        "更换线缆；仍有错误则更换交换机端口或对端光模块。",
        *_case_pair(w, m.IB_RCV_ERRORS, "0+1x100", "0x100", "400s"),
    ),
    lambda t, devices, hca, w: _alert(
        "IbCongestion",
        f"rate({_sel(w, m.IB_XMIT_WAIT)}[{t.rate_window}]) > {t.ib_xmit_wait_per_second:g}",
        t.slow_for,
        Severity.INFO,
        "InfiniBand {{ $labels.device }} port {{ $labels.port }} on {{ $labels.node }} waits to transmit",
        "PortXmitWait grows fast: the port has data but no credits (congestion or a slow receiver).",
        "Which jobs run on the node; the switch's congestion counters; whether one rail or all are affected.",
        "Tell the job owner; check adaptive routing and congestion control on the fabric if it is widespread.",
        "节点上运行的作业；交换机的拥塞计数；是单个 rail 还是全部 rail 受影响。",
        "通知作业负责人；若大范围出现则检查网络的自适应路由与拥塞控制。",
        *_case_pair(w, m.IB_XMIT_WAIT, "0+10000000x200", "0+100000x200", "600s"),
    ),
    lambda t, devices, hca, w: _alert(
        "RdmaRetriesExhausted",
        f'increase({m.IB_HW_COUNTER}{{device=~"{devices}",counter=~"req_(transport|rnr)_retries_exceeded"}}'
        f"[{t.event_window}])"
        " > 0",
        "0s",
        Severity.WARNING,
        "RDMA {{ $labels.counter }} on {{ $labels.device }} port {{ $labels.port }} of {{ $labels.node }}",
        "A queue pair ran out of transport or RNR retries and went to error: the NCCL connection over it "
        "failed (the mlx5 counters node_exporter does not read).",
        "cat /sys/class/infiniband/<hca>/ports/1/hw_counters/req_*_retries_exceeded; the job's NCCL log for "
        "'remote access error' or timeouts; the port's link counters.",
        "Fix the link if its counters grow too; otherwise tell the job owner (receiver not posting buffers).",
        "查看 hw_counters/req_*_retries_exceeded；作业 NCCL 日志中的 'remote access error' 或超时；端口链路计数。",
        "若链路计数同时增长则修复链路；否则通知作业负责人（接收端未及时提交缓冲区）。",
        Case(
            ((f'{m.IB_HW_COUNTER}{{{w.port},counter="req_transport_retries_exceeded"}}', "0 0 1x10"),),
            "15s",
            ({**w.who, "counter": "req_transport_retries_exceeded"},),
        ),
        Case(
            (
                (f'{m.IB_HW_COUNTER}{{{w.port},counter="req_transport_retries_exceeded"}}', "0x10"),
                (f'{m.IB_HW_COUNTER}{{{w.port},counter="rx_write_requests"}}', "0+100x10"),
            ),
            "15s",
        ),
    ),
    lambda t, devices, hca, w: _alert(
        "RdmaTransportRetries",
        " or ".join(
            f"rate({_sel(w, x)}[{t.rate_window}]) > {t.rdma_retries_per_second:g}"
            for x in (m.RDMA_ACK_TIMEOUT, m.RDMA_SEQ_ERRORS, m.RDMA_RNR_NAK)
        ),
        t.settle_for,
        Severity.WARNING,
        "RDMA transport retries on {{ $labels.device }} port {{ $labels.port }} of {{ $labels.node }}",
        "Local ACK timeouts, sequence errors or RNR NAKs grow: a precursor of NCCL timeouts.",
        "hw_counters of the port (local_ack_timeout_err, packet_seq_err, rnr_nak_retry_err); the fabric's "
        "congestion; the peer nodes' counters.",
        "Find the peer or link at fault with the fabric test; fix the link; tell the job owner if it is "
        "receiver-side (RNR).",
        "端口 hw_counters（local_ack_timeout_err、packet_seq_err、rnr_nak_retry_err）；网络拥塞；对端节点计数。",
        "用网络测试定位故障的对端或链路并修复；若为接收端 (RNR) 问题则通知作业负责人。",
        *_case_pair(w, m.RDMA_ACK_TIMEOUT, "0+50x50", "0+1x50", "200s"),
    ),
    lambda t, devices, hca, w: _alert(
        "RdmaCongestionNotifications",
        f"rate({_sel(w, m.RDMA_CNP_HANDLED)}[{t.rate_window}]) > {t.rdma_cnp_per_second:g} "
        f"or rate({_sel(w, m.RDMA_CNP_SENT)}[{t.rate_window}]) > {t.rdma_cnp_per_second:g}",
        t.slow_for,
        Severity.INFO,
        "RoCE congestion notifications on {{ $labels.device }} port {{ $labels.port }} of {{ $labels.node }}",
        "Many CNPs handled or sent: ECN marks congestion on the RoCE fabric (DCQCN is throttling).",
        "Switch ECN/PFC counters; which jobs share the rail; PFC pause counters (ethtool -S).",
        "Tell the job owner; review the fabric's ECN thresholds and traffic classes if it persists.",
        "交换机 ECN/PFC 计数；哪些作业共享该 rail；PFC pause 计数 (ethtool -S)。",
        "通知作业负责人；若持续则检查网络的 ECN 阈值与流量类别。",
        *_case_pair(w, m.RDMA_CNP_HANDLED, "0+10000x200", "0+10x200", "600s"),
    ),
)
"""One alert per entry, from ``error_alerts``'s arguments and ``_error_series``: the table of this module."""


def error_alerts(t: Thresholds, devices: str, hca: str) -> list[Alert]:
    """Counter alerts on the HCAs matching the regex ``devices``; ``hca`` names the one the tests use."""
    w = _error_series(devices, hca)
    return [spec(t, devices, hca, w) for spec in _ERROR_ALERTS]
