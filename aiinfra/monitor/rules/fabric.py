"""InfiniBand/RDMA alerts on the data rails a definition declares.

Only the declared rails (HCA, port) are watched, so an unused port or the management NIC
never pages. Expected rates come from each rail's ``rate_gbps``.

Example:
    >>> from aiinfra.definition import load_definition
    >>> from aiinfra.monitor.rules.fabric import fabric_alerts
    >>> from aiinfra.monitor.rules.thresholds import Thresholds
    >>> d = load_definition("clusters/a800-ib.yaml")
    >>> [a.name for a in fabric_alerts(Thresholds(), d.rails)][:3]
    ['IbPortDown', 'IbPortMissing', 'IbRateDegraded']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import groupby
from types import SimpleNamespace

from aiinfra.definition.model import Rail
from aiinfra.monitor.rules import metrics as m
from aiinfra.monitor.rules.fabric_errors import error_alerts
from aiinfra.monitor.rules.model import Alert, Case, Severity, alert_of
from aiinfra.monitor.rules.promql import nodes_with, sel
from aiinfra.monitor.rules.thresholds import Thresholds


def rails_regex(rails: Sequence[Rail]) -> str:
    """The ``device`` regex of the declared HCAs."""
    return "|".join(sorted({r.hca for r in rails}))


def fabric_alerts(t: Thresholds, rails: Sequence[Rail]) -> list[Alert]:
    """Port state, presence and rate alerts plus the error-counter alerts; none without rails."""
    if not rails:
        return []
    return [*_link_alerts(t, rails), *error_alerts(t, rails_regex(rails), rails[0].hca)]


def _expected_rate(rails: Sequence[Rail]) -> str:
    parts = []
    by_rate = sorted(rails, key=lambda r: r.rate_gbps)
    for rate, group in groupby(by_rate, key=lambda r: r.rate_gbps):
        devices = "|".join(sorted({r.hca for r in group}))
        parts.append(f"{sel(m.IB_RATE, device='~' + devices)} < {rate * 1e9 / 8:.0f}")
    return " or ".join(parts)


_AIINFRA_UP = (f'up{{node="gpu-1",job="{m.JOB_AIINFRA}"}}', "1x10")

_alert = alert_of("infiniband")


def _link_series(rails: Sequence[Rail]) -> SimpleNamespace:
    """The test series and label sets the alerts below share."""
    dev = "~" + rails_regex(rails)
    hca = rails[0].hca
    port = f'node="gpu-1",device="{hca}",port="{rails[0].port}"'
    who = {"node": "gpu-1", "device": hca, "port": str(rails[0].port)}
    full = rails[0].rate_gbps * 1e9 / 8
    present = f"count by (node) ({sel(m.IB_STATE, device=dev)})"
    present_series = tuple((f'{m.IB_STATE}{{node="gpu-1",device="{r.hca}",port="{r.port}"}}', "4x10") for r in rails)
    return SimpleNamespace(
        dev=dev, hca=hca, port=port, who=who, full=full, present=present, present_series=present_series
    )


_LINK_ALERTS: tuple[Callable[..., Alert], ...] = (
    lambda t, rails, w: _alert(
        "IbPortDown",
        f"{sel(m.IB_STATE, device=w.dev)} != 4 or {sel(m.IB_PHYS_STATE, device=w.dev)} != 5",
        t.fast_for,
        Severity.CRITICAL,
        "InfiniBand {{ $labels.device }} port {{ $labels.port }} on {{ $labels.node }} is down",
        "A data rail is not ACTIVE/LinkUp: collectives over it hang or fall back.",
        check="ibstat <hca> (State, Physical state); the cable and switch port LEDs; the switch port in UFM "
        "or ibswitches/ibportstate; dmesg for mlx5 errors.",
        action="Drain the node if it does not come back within minutes; reseat or replace the cable or "
        "transceiver; check the switch port; then run the fabric test on the node.",
        check_zh="ibstat（State、Physical state）；线缆与交换机端口指示灯；在 "
        "UFM 或 ibportstate 中检查交换机端口；dmesg 中的 mlx5 错误。",
        action_zh="若数分钟内未恢复则驱逐节点；重新插拔或更换线缆/光模块；检查交换机端口；之后对该节点运行网络测试。",
        fires=Case(
            ((f"{m.IB_STATE}{{{w.port}}}", "4 1x10"), (f"{m.IB_PHYS_STATE}{{{w.port}}}", "5 3x10")), "20s", (w.who,)
        ),
        quiet=Case(
            (
                (f"{m.IB_STATE}{{{w.port}}}", "4x10"),
                (f"{m.IB_PHYS_STATE}{{{w.port}}}", "5x10"),
                (f'{m.IB_STATE}{{node="gpu-1",device="mlx5_bond_0",port="1"}}', "1x10"),
            ),
            "20s",
        ),
    ),
    lambda t, rails, w: _alert(
        "IbPortMissing",
        f"{m.IB_RAIL_PRESENT} == 0 or on (node) "
        f"({w.present} or on (node) (0 * {nodes_with(m.JOB_AIINFRA)})) < {len(rails)}",
        t.fast_for,
        Severity.CRITICAL,
        "{{ $labels.node }} misses declared InfiniBand port {{ $labels.device }} {{ $labels.port }} "
        "(rail {{ $labels.rail }})",
        f"A declared HCA port is missing from sysfs (the aiinfra exporter names the rail; node_exporter shows "
        f"fewer than {len(rails)} rail ports): its driver failed, or the card dropped off PCIe.",
        check="ls /sys/class/infiniband; ibstat; lspci | grep -i mellanox; dmesg for mlx5_core errors.",
        action="Drain; reload mlx5_core or reboot; reseat the HCA or open an RMA if it stays missing.",
        check_zh="ls /sys/class/infiniband；ibstat；lspci | grep -i mellanox；dmesg 中的 mlx5_core 错误。",
        action_zh="驱逐节点；重新加载 mlx5_core 或重启；仍缺失则重新插拔 HCA 或申请 RMA。",
        fires=Case(
            (
                *w.present_series[1:],
                _AIINFRA_UP,
                (
                    f'{m.IB_RAIL_PRESENT}{{node="gpu-1",rail="{rails[0].name}",device="{w.hca}",port="{rails[0].port}"}}',
                    "1 0x10",
                ),
            ),
            "20s",
            ({**w.who, "rail": rails[0].name},),
        ),
        quiet=Case(
            (
                *w.present_series,
                _AIINFRA_UP,
                (
                    f'{m.IB_RAIL_PRESENT}{{node="gpu-1",rail="{rails[0].name}",device="{w.hca}",port="{rails[0].port}"}}',
                    "1x10",
                ),
            ),
            "20s",
        ),
    ),
    lambda t, rails, w: _alert(
        "IbRateDegraded",
        f"{_expected_rate(rails)} or {m.IB_DOWNSHIFT} == 1",
        t.fast_for,
        Severity.CRITICAL,
        "InfiniBand {{ $labels.device }} port {{ $labels.port }} on {{ $labels.node }} runs below its rate",
        "The port trained at a lower width or speed than declared (4X -> 2X, NDR -> HDR): the rail silently "
        "delivers a fraction of its bandwidth and slows every collective.",
        check="ibstat (Rate) and the aiinfra exporter's width/speed; mlxlink -d <pci> for the lane state and "
        "FEC; the switch side of the link.",
        action="Drain; reseat or replace the cable or transceiver; if it persists, swap the switch port.",
        check_zh="ibstat（Rate）及 aiinfra 导出器的宽度/速率；mlxlink "
        "-d <pci> 查看 lane 状态与 FEC；链路的交换机侧。",
        action_zh="驱逐节点；重新插拔或更换线缆/光模块；仍降速则更换交换机端口。",
        fires=Case(((f"{m.IB_RATE}{{{w.port}}}", f"{w.full:.0f} {w.full / 2:.0f}x10"),), "20s", (w.who,)),
        quiet=Case(
            ((f"{m.IB_RATE}{{{w.port}}}", f"{w.full:.0f}x10"), (f"{m.IB_DOWNSHIFT}{{{w.port}}}", "0x10")), "20s"
        ),
    ),
)
"""One alert per entry, from ``_link_alerts``'s arguments and ``_link_series``: the table of this module."""


def _link_alerts(t: Thresholds, rails: Sequence[Rail]) -> list[Alert]:
    w = _link_series(rails)
    return [spec(t, rails, w) for spec in _LINK_ALERTS]
