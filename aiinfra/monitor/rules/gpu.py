"""GPU alerts: XIDs per NVIDIA's catalog, missing GPUs, memory errors, throttling, PCIe, NVLink.

Example:
    >>> from aiinfra.monitor.rules.gpu import gpu_alerts
    >>> from aiinfra.monitor.rules.thresholds import Thresholds
    >>> [a.name for a in gpu_alerts(Thresholds(), 8)][:3]
    ['GpuXidFatal', 'GpuXidNvlink', 'GpuXidApplication']
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from aiinfra.monitor.rules import metrics as m
from aiinfra.monitor.rules.gpu_links import link_alerts
from aiinfra.monitor.rules.model import Alert, Case, Severity, alert_of
from aiinfra.monitor.rules.promql import counter_rose, nodes_with, sel
from aiinfra.monitor.rules.thresholds import (
    XID_APPLICATION,
    XID_FATAL,
    XID_NVLINK,
    Thresholds,
    duration_words,
    xid_regex,
)

N = 'node="gpu-1"'
GPU = 'node="gpu-1",gpu="3"'


def gpu_alerts(t: Thresholds, gpus_per_node: int) -> list[Alert]:
    """Every GPU alert for nodes that should have ``gpus_per_node`` GPUs."""
    return [*_xid_alerts(t), *_presence_and_memory(t, gpus_per_node), *link_alerts(t)]


def _xid(xid_set: tuple[int, ...], window: str) -> str:
    return counter_rose(sel(m.XID, xid="~" + xid_regex(xid_set)), window)


def _app_xid(t: Thresholds) -> str:
    return _xid(XID_APPLICATION, t.app_xid_window)


_alert = alert_of("gpu")
_OWNER = f'group by (node, gpu, namespace, pod) ({m.DCGM_UTIL}{{pod!=""}})'

_XID_ALERTS: tuple[Callable[[Thresholds], Alert], ...] = (
    lambda t: _alert(
        "GpuXidFatal",
        _xid(XID_FATAL, t.xid_window),
        "0s",
        Severity.CRITICAL,
        "Fatal XID {{ $labels.xid }} on {{ $labels.node }} GPU {{ $labels.gpu }}",
        "An XID in NVIDIA's RESET_GPU/RESTART_BM buckets: the GPU cannot be trusted until it is reset "
        "or the node rebooted.",
        check="Kernel log (dmesg | grep -i xid) for the XID and its neighbours; nvidia-smi -q for the GPU's "
        "state and pending row remaps; which pods use the GPU.",
        action="Cordon and drain the node. Reset the GPU (XID 79/160: cold power cycle), run dcgmi diag -r 2, "
        "return the node to service if it passes; open an RMA if the XID repeats.",
        check_zh="查看内核日志 (dmesg | grep -i xid) 中的 XID "
        "及其前后消息；nvidia-smi -q 查看 GPU 状态与待处理的行重映射；"
        "确认哪些 Pod 使用该 GPU。",
        action_zh="封锁 (cordon) 并驱逐 (drain) 该节点。重置 GPU（XID 79/160 需冷重启），运行 dcgmi diag -r 2，"
        "通过后恢复节点；XID 重复出现则申请 RMA。",
        fires=Case(
            ((f'{m.XID}{{{GPU},xid="79"}}', "_x2 1x10"),), "20s", ({"node": "gpu-1", "gpu": "3", "xid": "79"},)
        ),
        quiet=Case(((f'{m.XID}{{{GPU},xid="13"}}', "0+1x10"), (f'{m.XID}{{{GPU},xid="48"}}', "1x800")), "4000s"),
    ),
    lambda t: _alert(
        "GpuXidNvlink",
        _xid(XID_NVLINK, t.xid_window),
        "0s",
        Severity.CRITICAL,
        "NVLink XID {{ $labels.xid }} on {{ $labels.node }} GPU {{ $labels.gpu }}",
        "An XID in the catalog's NVLink workflow bucket (74, 144-150): NVLink traffic of this GPU is failing.",
        check="dmesg for the XID and NVSwitch SXIDs; nvidia-smi "
        "nvlink -s and -e for link state and error counters; "
        "the GpuNvlinkDown/GpuNvlinkErrors alerts of the same node.",
        action="Drain the node; reset the GPUs (and NVSwitch fabric manager) and run dcgmi diag -r 2; "
        "reseat or replace the baseboard if links stay down.",
        check_zh="dmesg 中的 XID 与 NVSwitch SXID；nvidia-smi nvlink -s / -e 查看链路状态与错误计数；同节点的 "
        "GpuNvlinkDown/GpuNvlinkErrors 告警。",
        action_zh="驱逐该节点；重置 GPU（及 NVSwitch Fabric "
        "Manager）并运行 dcgmi diag -r 2；链路仍断开则检修或更换基板。",
        fires=Case(
            ((f'{m.XID}{{{GPU},xid="74"}}', "0 0 1x10"),), "15s", ({"node": "gpu-1", "gpu": "3", "xid": "74"},)
        ),
        quiet=Case(((f'{m.XID}{{{GPU},xid="31"}}', "0+1x10"),), "50s"),
    ),
    lambda t: _alert(
        "GpuXidApplication",
        f"({_app_xid(t)} * on (node, gpu) group_left (namespace, pod) {_OWNER}) or on (node, gpu, xid) {_app_xid(t)}",
        "0s",
        Severity.INFO,
        "Application XID {{ $labels.xid }} on {{ $labels.node }} GPU {{ $labels.gpu }} (pod {{ $labels.pod }})",
        "An XID the catalog files under RESTART_APP/IGNORE: the program on the GPU failed, the GPU is healthy.",
        check="The pod's logs around the time of the XID (13/31/43: "
        "illegal address or kernel fault in the program, "
        "94: contained ECC error, the page is retired).",
        action="Tell the job owner; restart the job. Nothing to do on the node unless the XID repeats across jobs.",
        check_zh="查看该 Pod 在 XID 发生时的日志（13/31/43："
        "程序非法地址或内核错误；94：已隔离的 ECC 错误，页已退役）。",
        action_zh="通知作业负责人并重启作业。除非多个作业反复出现，节点本身无需处理。",
        fires=Case(
            (
                (f'{m.XID}{{{GPU},xid="13"}}', "0 0 1x10"),
                (f'{m.DCGM_UTIL}{{{GPU},namespace="ml",pod="train-0"}}', "90x10"),
            ),
            "15s",
            ({"node": "gpu-1", "gpu": "3", "xid": "13", "namespace": "ml", "pod": "train-0"},),
        ),
        quiet=Case(((f'{m.XID}{{{GPU},xid="13"}}', "1x200"),), "1000s"),
    ),
)
"""One alert per entry, built from the thresholds (``_xid_alerts``): the table of this module."""


def _xid_alerts(t: Thresholds) -> list[Alert]:
    return [spec(t) for spec in _XID_ALERTS]


_SEEN = f"count by (node) ({m.DCGM_TEMP})"


def _gpu_series(gpus: int) -> SimpleNamespace:
    """The test series and label sets the alerts below share."""
    missing = (
        f"({_SEEN} or on (node) (0 * {nodes_with(m.JOB_AIINFRA)})) < {gpus} "
        f"or on (node) count by (node) ({m.GPU_INFO}) < {gpus}"
    )
    healthy = tuple((f'{m.DCGM_TEMP}{{{N},gpu="{i}"}}', "40x10") for i in range(gpus))
    return SimpleNamespace(missing=missing, healthy=healthy)


_PRESENCE_AND_MEMORY_ALERTS: tuple[Callable[..., Alert], ...] = (
    lambda t, gpus, w: _alert(
        "GpuMissing",
        w.missing,
        t.fast_for,
        Severity.CRITICAL,
        f"{{{{ $labels.node }}}} sees fewer than {gpus} GPUs",
        "dcgm-exporter or NVML (aiinfra exporter) reports fewer GPUs than "
        "the definition declares: a GPU fell off the bus (XID 79) or its "
        "driver did not load.",
        check="nvidia-smi -L on the node; dmesg for XID 79 or 'fallen off the bus'; lspci | grep -i nvidia.",
        action="Cordon and drain; cold power cycle the node; reseat the GPU or open an RMA if it stays missing.",
        check_zh="在节点上运行 nvidia-smi -L；dmesg 中查找 XID 79 或 "
        "'fallen off the bus'；lspci | grep -i nvidia。",
        action_zh="封锁并驱逐节点；冷重启；仍缺失则重新插拔 GPU 或申请 RMA。",
        fires=Case((*w.healthy[:-1], (f'up{{{N},job="{m.JOB_AIINFRA}"}}', "1x10")), "15s", ({"node": "gpu-1"},)),
        quiet=Case((*w.healthy, (f'up{{{N},job="{m.JOB_AIINFRA}"}}', "1x10")), "15s"),
    ),
    lambda t, gpus, w: _alert(
        "GpuRowRemapFailed",
        f"{m.DCGM_ROW_REMAP_FAILURE} > 0 or {m.ROW_REMAP_FAILURE} > 0",
        t.fast_for,
        Severity.CRITICAL,
        "Row remapping failed on {{ $labels.node }} GPU {{ $labels.gpu }}",
        "The GPU could not remap a failing HBM row: NVIDIA's RMA criterion.",
        check="nvidia-smi -q -d ROW_REMAPPER (Remapping Failure "
        "Occurred, histogram); the uncorrectable error history.",
        action="Drain the node and take the GPU out of service; run the field diagnostic and open an RMA.",
        check_zh="nvidia-smi -q -d ROW_REMAPPER（Remapping Failure Occurred 与直方图）；不可纠正错误历史。",
        action_zh="驱逐节点并停用该 GPU；运行现场诊断 (fielddiag) 并申请 RMA。",
        fires=Case(((f"{m.ROW_REMAP_FAILURE}{{{GPU}}}", "0 1x10"),), "20s", ({"node": "gpu-1", "gpu": "3"},)),
        quiet=Case(
            ((f"{m.ROW_REMAP_FAILURE}{{{GPU}}}", "0x10"), (f"{m.DCGM_ROW_REMAP_FAILURE}{{{GPU}}}", "0x10")), "40s"
        ),
    ),
    lambda t, gpus, w: _alert(
        "GpuRowRemapPending",
        f"{m.ROW_REMAP_PENDING} > 0",
        t.fast_for,
        Severity.WARNING,
        "Row remap pending on {{ $labels.node }} GPU {{ $labels.gpu }}: reset it when drained",
        "A remap waits for the next GPU reset; until then the row stays unusable.",
        check="nvidia-smi -q -d ROW_REMAPPER (Pending: Yes); whether a job is running on the GPU.",
        action="Let the running job finish (or drain), then reset the GPU (nvidia-smi -r) or reboot the node.",
        check_zh="nvidia-smi -q -d ROW_REMAPPER（Pending: Yes）；GPU 上是否有作业在运行。",
        action_zh="等待当前作业结束（或驱逐），然后重置 GPU (nvidia-smi -r) 或重启节点。",
        fires=Case(((f"{m.ROW_REMAP_PENDING}{{{GPU}}}", "0 1x10"),), "20s", ({"node": "gpu-1", "gpu": "3"},)),
        quiet=Case(((f"{m.ROW_REMAP_PENDING}{{{GPU}}}", "0x10"),), "40s"),
    ),
    lambda t, gpus, w: _alert(
        "GpuUncorrectableRowsGrowing",
        f"{m.DCGM_UNCORRECTABLE_ROWS} > min_over_time({m.DCGM_UNCORRECTABLE_ROWS}[{t.uncorrectable_rows_window}])",
        "0s",
        Severity.WARNING,
        "Uncorrectable remapped rows grew on {{ $labels.node }} GPU {{ $labels.gpu }}",
        f"More HBM rows were remapped for uncorrectable errors within the last "
        f"{duration_words(t.uncorrectable_rows_window, article=False)}: the memory is degrading.",
        check="nvidia-smi -q -d ROW_REMAPPER, the remap histogram (how many spare rows are left per bank).",
        action="Reset the GPU when drained so the remap takes effect; plan an RMA when the histogram shows "
        "banks with no spare rows.",
        check_zh="nvidia-smi -q -d ROW_REMAPPER 及重映射直方图（每个 bank 剩余的备用行）。",
        action_zh="驱逐后重置 GPU 使重映射生效；直方图显示 bank 无备用行时计划 RMA。",
        fires=Case(
            ((f"{m.DCGM_UNCORRECTABLE_ROWS}{{{GPU}}}", "2x5 3x5"),), "30s", ({"node": "gpu-1", "gpu": "3"},)
        ),
        quiet=Case(((f"{m.DCGM_UNCORRECTABLE_ROWS}{{{GPU}}}", "2x20"),), "90s"),
    ),
    lambda t, gpus, w: _alert(
        "GpuDoubleBitEcc",
        f"{m.DCGM_DBE_VOL} > 0",
        "0s",
        Severity.CRITICAL,
        "Double-bit ECC errors on {{ $labels.node }} GPU {{ $labels.gpu }} since the last reset",
        "Volatile uncorrectable (double-bit) ECC errors: the XID 48 path; data on this GPU may be corrupt.",
        check="nvidia-smi -q -d ECC,ROW_REMAPPER; dmesg for XID 48/63/64/94/95.",
        action="Drain the node, reset the GPU (a pending remap takes effect), run dcgmi diag -r 3 before reuse.",
        check_zh="nvidia-smi -q -d ECC,ROW_REMAPPER；dmesg 中的 XID 48/63/64/94/95。",
        action_zh="驱逐节点并重置 GPU（待处理的重映射随之生效），重新使用前运行 dcgmi diag -r 3。",
        fires=Case(((f"{m.DCGM_DBE_VOL}{{{GPU}}}", "0 0 2x10"),), "10s", ({"node": "gpu-1", "gpu": "3"},)),
        quiet=Case(((f"{m.DCGM_DBE_VOL}{{{GPU}}}", "0x10"), (f"{m.DCGM_SBE_VOL}{{{GPU}}}", "0+5x10")), "40s"),
    ),
    lambda t, gpus, w: _alert(
        "GpuSingleBitEccStorm",
        f"increase({m.DCGM_SBE_VOL}[{t.sbe_window}]) > {t.sbe_per_window}",
        t.settle_for,
        Severity.WARNING,
        "Single-bit ECC storm on {{ $labels.node }} GPU {{ $labels.gpu }}",
        f"More than {t.sbe_per_window} corrected errors in {duration_words(t.sbe_window)}: a leading indicator of "
        "XID 92 and of "
        "uncorrectable errors.",
        check="nvidia-smi -q -d ECC (volatile and aggregate counts); the row remap histogram.",
        action="Watch the trend; reset the GPU at the next drain; RMA if uncorrectable errors follow.",
        check_zh="nvidia-smi -q -d ECC（易失与累计计数）；行重映射直方图。",
        action_zh="观察趋势；在下次驱逐时重置 GPU；若随后出现不可纠正错误则 RMA。",
        fires=Case(((f"{m.DCGM_SBE_VOL}{{{GPU}}}", "0+10x30"),), "150s", ({"node": "gpu-1", "gpu": "3"},)),
        quiet=Case(((f"{m.DCGM_SBE_VOL}{{{GPU}}}", "0+1x30"),), "150s"),
    ),
)
"""One alert per entry, from ``_presence_and_memory``'s arguments and ``_gpu_series``: the table of this module."""


def _presence_and_memory(t: Thresholds, gpus: int) -> list[Alert]:
    w = _gpu_series(gpus)
    return [spec(t, gpus, w) for spec in _PRESENCE_AND_MEMORY_ALERTS]
