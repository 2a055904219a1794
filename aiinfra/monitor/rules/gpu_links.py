"""GPU alerts on how well a healthy GPU runs: throttling, temperature, PCIe, NVLink, DCGM health.

Example:
    >>> from aiinfra.monitor.rules.gpu_links import link_alerts
    >>> from aiinfra.monitor.rules.thresholds import Thresholds
    >>> len(link_alerts(Thresholds())) >= 8
    True
"""

from __future__ import annotations

from aiinfra.monitor.rules import metrics as m
from aiinfra.monitor.rules.model import Alert, Case, Severity
from aiinfra.monitor.rules.thresholds import Thresholds, duration_words

GPU = 'node="gpu-1",gpu="3"'
WHO = {"node": "gpu-1", "gpu": "3"}


def link_alerts(t: Thresholds) -> list[Alert]:
    """Throttling, temperature, PCIe, NVLink and DCGM health alerts."""
    return [*_throttle(t), *_pcie(t), *_nvlink(t), *_health(t)]


def _slowdown(t: Thresholds, name: str, expr: str, what: str, zh: str, fires: Case, quiet: Case) -> Alert:
    return Alert(
        name,
        "gpu",
        expr,
        t.settle_for,
        Severity.WARNING,
        f"{{{{ $labels.node }}}} GPU {{{{ $labels.gpu }}}} is in hardware {what} slowdown",
        f"The hardware cut the GPU's clocks ({what}) for {t.settle_for}; the whole job runs at the speed of this GPU.",
        check="nvidia-smi -q -d PERFORMANCE (Clocks Event Reasons); temperatures, fan and inlet air, power supply "
        "and the GPU's power cables.",
        action="Fix cooling or power (facility ticket); drain the node if the slowdown persists during jobs.",
        check_zh=f"nvidia-smi -q -d PERFORMANCE（时钟事件原因）；检查温度、风扇与进风、电源及 GPU 供电线缆（{zh}）。",
        action_zh="修复散热或供电（提交机房工单）；若作业期间持续降频则驱逐节点。",
        fires=fires,
        quiet=quiet,
    )


def _throttle(t: Thresholds) -> list[Alert]:
    temp = f"{m.DCGM_TEMP} > {t.gpu_temp_celsius} or {m.DCGM_MEM_TEMP} > {t.gpu_memory_temp_celsius}"
    return [
        _slowdown(
            t,
            "GpuThermalSlowdown",
            f'rate({m.GPU_VIOLATION}{{reason="thermal"}}[{t.burst_rate_window}]) > {t.throttle_fraction}',
            "thermal",
            "硬件过热降频",
            Case(
                ((f'{m.GPU_VIOLATION}{{{GPU},reason="thermal"}}', "0+2.5x30"),), "100s", ({**WHO, "reason": "thermal"},)
            ),
            Case(
                (
                    (f'{m.GPU_VIOLATION}{{{GPU},reason="thermal"}}', "0+0.1x30"),
                    (f'{m.GPU_VIOLATION}{{{GPU},reason="power"}}', "0+5x30"),
                ),
                "100s",
            ),
        ),
        _slowdown(
            t,
            "GpuPowerBrakeSlowdown",
            f'{m.DCGM_CLOCK_EVENTS}{{clock_event=~"hw_power_brake|hw_slowdown"}} > 0',
            "power-brake",
            "硬件电源制动降频",
            Case(
                ((f'{m.DCGM_CLOCK_EVENTS}{{{GPU},clock_event="hw_power_brake"}}', "0 2x30"),),
                "100s",
                ({**WHO, "clock_event": "hw_power_brake"},),
            ),
            Case(
                (
                    (f'{m.DCGM_CLOCK_EVENTS}{{{GPU},clock_event="hw_power_brake"}}', "0x30"),
                    (f'{m.DCGM_CLOCK_EVENTS}{{{GPU},clock_event="power_cap"}}', "9x30"),
                ),
                "100s",
            ),
        ),
        Alert(
            "GpuTemperatureHigh",
            "gpu",
            temp,
            t.settle_for,
            Severity.WARNING,
            "{{ $labels.node }} GPU {{ $labels.gpu }} runs hot",
            f"GPU core above {t.gpu_temp_celsius} °C or HBM above {t.gpu_memory_temp_celsius} °C for "
            f"{t.settle_for}: the margin to thermal slowdown is gone.",
            check="DCGM temperatures of the node's other GPUs (one GPU: its heatsink; all: airflow or inlet); "
            "fan speeds in the BMC.",
            action="Open a facility ticket for cooling; drain the node if GpuThermalSlowdown follows.",
            check_zh="同节点其他 GPU 的温度（单卡过热：散热器；全部过热：风道或进风）；BMC 中的风扇转速。",
            action_zh="提交机房散热工单；若随后出现 GpuThermalSlowdown 则驱逐节点。",
            fires=Case(((f"{m.DCGM_TEMP}{{{GPU}}}", "90x30"),), "90s", (WHO,)),
            quiet=Case(((f"{m.DCGM_TEMP}{{{GPU}}}", "80x30"), (f"{m.DCGM_MEM_TEMP}{{{GPU}}}", "90x30")), "90s"),
        ),
    ]


def _pcie(t: Thresholds) -> list[Alert]:
    return [
        Alert(
            "GpuPcieReplays",
            "gpu",
            f"increase({m.DCGM_PCIE_REPLAY}[{t.pcie_replay_window}]) > {t.pcie_replays_per_window}",
            "0s",
            Severity.WARNING,
            "PCIe replays on {{ $labels.node }} GPU {{ $labels.gpu }}",
            f"More than {t.pcie_replays_per_window} PCIe replays in {duration_words(t.pcie_replay_window)}: "
            "a signal-integrity problem between "
            "the GPU and its PCIe switch.",
            check="nvidia-smi -q -d PCI (replay counter, link generation and width); lspci -vvv for AER errors; "
            "whether the GPU's HCA shows errors too (same PCIe switch).",
            action="Reseat the GPU or its riser at the next maintenance; RMA the baseboard if replays continue.",
            check_zh="nvidia-smi -q -d PCI（重传计数、链路代数与宽度）；lspci "
            "-vvv 查看 AER 错误；同一 PCIe 交换机下的 HCA 是否也有错误。",
            action_zh="在下次维护时重新插拔 GPU 或转接卡；重传持续则更换基板 (RMA)。",
            fires=Case(((f"{m.DCGM_PCIE_REPLAY}{{{GPU}}}", "0+5x10"),), "50s", (WHO,)),
            quiet=Case(((f"{m.DCGM_PCIE_REPLAY}{{{GPU}}}", "0+1x10"),), "50s"),
        ),
        Alert(
            "GpuPcieDowntrained",
            "gpu",
            f"{m.GPU_PCIE_DOWNTRAINED} == 1",
            t.settle_for,
            Severity.WARNING,
            "{{ $labels.node }} GPU {{ $labels.gpu }} runs its PCIe link below full width",
            "The PCIe link trained narrower than the GPU supports (e.g. x8 instead of x16), halving host and "
            "GPUDirect bandwidth. Link generation drops at idle for power saving and is not alerted on.",
            check="nvidia-smi -q -d PCI (current vs max width); lspci -vvv LnkSta of the GPU and its upstream port.",
            action="Drain; reseat the GPU or riser; RMA if it retrains narrow.",
            check_zh="nvidia-smi -q -d PCI（当前与最大宽度）；lspci -vvv 查看 GPU 及上游端口的 LnkSta。",
            action_zh="驱逐节点；重新插拔 GPU 或转接卡；重新训练后仍变窄则 RMA。",
            fires=Case(((f"{m.GPU_PCIE_DOWNTRAINED}{{{GPU}}}", "0 1x20"),), "80s", (WHO,)),
            quiet=Case(
                ((f"{m.GPU_PCIE_DOWNTRAINED}{{{GPU}}}", "0 1 0x20"), (f"{m.GPU_PCIE_GEN}{{{GPU}}}", "1x20")), "80s"
            ),
        ),
    ]


def _nvlink(t: Thresholds) -> list[Alert]:
    link = 'node="gpu-1",gpu="3",link="5"'
    who = {**WHO, "link": "5"}
    return [
        Alert(
            "GpuNvlinkDown",
            "gpu",
            # A800's NVML reports 12 links with 4 fused off: a link is down only while fewer are up than the
            # definition's NVLink bandwidth implies (aiinfra_gpu_nvlink_links_expected).
            f"{m.NVLINK_STATE} == 0 and on (node, gpu) "
            f"(sum by (node, gpu) ({m.NVLINK_STATE}) < on (node, gpu) {m.NVLINK_EXPECTED})",
            t.fast_for,
            Severity.CRITICAL,
            "NVLink {{ $labels.link }} of {{ $labels.node }} GPU {{ $labels.gpu }} is down",
            "An NVLink link is inactive and fewer links are up than the definition's NVLink bandwidth implies: "
            "all-reduce inside the node falls back to slower paths or hangs.",
            check="nvidia-smi nvlink -s; nvidia-smi -q -d FABRIC (fabric manager state); dmesg for XID 74 and SXIDs.",
            action="Drain; restart nvidia-fabricmanager and reset the "
            "GPUs; reboot; RMA the baseboard if it stays down.",
            check_zh="nvidia-smi nvlink -s；nvidia-smi -q -d "
            "FABRIC（Fabric Manager 状态）；dmesg 中的 XID 74 与 SXID。",
            action_zh="驱逐节点；重启 nvidia-fabricmanager 并重置 GPU；重启节点；仍断开则更换基板 (RMA)。",
            fires=Case(
                ((f"{m.NVLINK_STATE}{{{link}}}", "1 0x10"), (f'{m.NVLINK_EXPECTED}{{node="gpu-1",gpu="3"}}', "1x10")),
                "20s",
                (who,),
            ),
            # A fused-off link (A800: 8 of 12 expected) beside a full set of live ones stays quiet.
            quiet=Case(
                (
                    (f"{m.NVLINK_STATE}{{{link}}}", "0x10"),
                    (f'{m.NVLINK_STATE}{{node="gpu-1",gpu="3",link="0"}}', "1x10"),
                    (f'{m.NVLINK_EXPECTED}{{node="gpu-1",gpu="3"}}', "1x10"),
                ),
                "40s",
            ),
        ),
        Alert(
            "GpuNvlinkErrors",
            "gpu",
            f"increase({m.NVLINK_ERRORS}[{t.nvlink_error_window}]) > {t.nvlink_errors_per_window}",
            "0s",
            Severity.WARNING,
            "NVLink {{ $labels.link }} of {{ $labels.node }} GPU {{ $labels.gpu }} counts {{ $labels.error }} errors",
            "NVLink CRC, replay or recovery errors grew: a precursor of XID 74.",
            check="nvidia-smi nvlink -e for the link; whether the peer GPU's link counts errors too.",
            action="Watch; at the next drain reset the GPUs and run dcgmi diag -r 2 (NVLink test).",
            check_zh="nvidia-smi nvlink -e 查看该链路；对端 GPU 的链路是否也在计错。",
            action_zh="持续观察；下次驱逐时重置 GPU 并运行 dcgmi diag -r 2（含 NVLink 测试）。",
            fires=Case(
                ((f'{m.NVLINK_ERRORS}{{{link},error="replay"}}', "0 0 3x10"),), "15s", ({**who, "error": "replay"},)
            ),
            quiet=Case(((f'{m.NVLINK_ERRORS}{{{link},error="replay"}}', "3x200"),), "1000s"),
        ),
    ]


def _health(t: Thresholds) -> list[Alert]:
    health = f'{m.DCGM_HEALTH}{{{GPU},health_watch="MEM"}}'
    who = {**WHO, "health_watch": "MEM"}
    return [
        Alert(
            "GpuHealthFailing",
            "gpu",
            f"{m.DCGM_HEALTH} >= {t.health_fail}",
            t.fast_for,
            Severity.CRITICAL,
            "DCGM health watch {{ $labels.health_watch }} fails on {{ $labels.node }} GPU {{ $labels.gpu }}",
            "A DCGM passive health watch reports FAIL (watch ALL carries XID 79 and 95).",
            check="dcgmi health -c -j on the node for the incident and its DCGM_FR_* code.",
            action="Follow the code: pending row remap -> reset the GPU; uncontained error or NVLink down -> "
            "drain and reboot; row remap failure -> field diagnostic and RMA.",
            check_zh="在节点上运行 dcgmi health -c -j 查看事件及其 DCGM_FR_* 代码。",
            action_zh="按代码处理：待处理行重映射 -> 重置 GPU；未隔离错误或 NVLink "
            "断开 -> 驱逐并重启；行重映射失败 -> 现场诊断并 RMA。",
            fires=Case(((health, "0 20x10"),), "20s", (who,)),
            quiet=Case(((health, "0 10x10"),), "40s"),
        ),
        Alert(
            "GpuHealthWarning",
            "gpu",
            f"{m.DCGM_HEALTH} == {t.health_warn}",
            t.settle_for,
            Severity.WARNING,
            "DCGM health watch {{ $labels.health_watch }} warns on {{ $labels.node }} GPU {{ $labels.gpu }}",
            "A DCGM passive health watch reports WARN.",
            check="dcgmi health -c -j for the incident.",
            action="Plan a drain and dcgmi diag -r 2; act now if a FAIL follows.",
            check_zh="运行 dcgmi health -c -j 查看事件。",
            action_zh="计划驱逐并运行 dcgmi diag -r 2；若随后转为 FAIL 立即处理。",
            fires=Case(((health, "0 10x20"),), "80s", (who,)),
            quiet=Case(((health, "0x20"),), "80s"),
        ),
    ]
