"""Node and exporter alerts: node down, exporters down, missing or stale, slow scrapes, failing collectors.

Example:
    >>> from aiinfra.monitor.rules.exporters import exporter_alerts
    >>> from aiinfra.monitor.rules.thresholds import Thresholds
    >>> exporter_alerts(Thresholds())[0].name
    'NodeDown'
"""

from __future__ import annotations

from collections.abc import Callable

from aiinfra.monitor.rules import metrics as m
from aiinfra.monitor.rules.model import Alert, Case, Severity, alert_of
from aiinfra.monitor.rules.promql import nodes_with
from aiinfra.monitor.rules.thresholds import Thresholds

NODE = {"node": "gpu-1"}


def _up(job: str, values: str) -> tuple[str, str]:
    return (f'up{{node="gpu-1",job="{job}"}}', values)


_alert = alert_of("exporter")
_node_alert = alert_of("node")
"""NodeDown belongs to the node, not to an exporter: routes and inhibitions key on subsystem="node"."""
_READY = f'{m.KSM_NODE_READY}{{condition="Ready",status="true"}}'
_NODE_DOWN = (
    f'{_READY} == 0 or (max by (node) (up{{job="{m.JOB_NODE_EXPORTER}"}}) == 0 '
    f'and on (node) max by (node) (up{{job="{m.JOB_AIINFRA}"}}) == 0)'
)

_EXPORTER_ALERTS: tuple[Callable[[Thresholds], Alert], ...] = (
    lambda t: _node_alert(
        "NodeDown",
        _NODE_DOWN,
        t.fast_for,
        Severity.CRITICAL,
        "Node {{ $labels.node }} is down or NotReady",
        "The node is NotReady, or neither node_exporter nor the aiinfra exporter answers on it. Its port, "
        "GPU and bond alerts are inhibited while this fires.",
        "kubectl describe node <node> (conditions, last heartbeat); the BMC console and power state; the "
        "management bond.",
        "Recover through the BMC (power cycle); the node's pods are rescheduled by Kubernetes; run the node "
        "checks before uncordoning.",
        "kubectl describe node <节点>（状况、最后心跳）；BMC 控制台与电源状态；管理网 bond。",
        "通过 BMC 恢复（断电重启）；Kubernetes 会重新调度其 Pod；解除封锁前运行节点检查。",
        Case((_up(m.JOB_NODE_EXPORTER, "1 0x10"), _up(m.JOB_AIINFRA, "1 0x10")), "20s", (NODE,)),
        Case((_up(m.JOB_NODE_EXPORTER, "1 0x10"), _up(m.JOB_AIINFRA, "1x10")), "20s"),
    ),
    lambda t: _down("NodeExporterDown", m.JOB_NODE_EXPORTER, "node_exporter", t),
    lambda t: _down("DcgmExporterDown", m.JOB_DCGM, "dcgm-exporter", t),
    lambda t: _down("AiinfraExporterDown", m.JOB_AIINFRA, "the aiinfra exporter", t),
    lambda t: _alert(
        "DcgmExporterMissing",
        f'{nodes_with(m.JOB_AIINFRA)} unless on (node) group by (node) (up{{job="{m.JOB_DCGM}"}})',
        t.settle_for,
        Severity.WARNING,
        "GPU node {{ $labels.node }} has no dcgm-exporter target",
        "The aiinfra exporter runs on this GPU node but Prometheus scrapes no dcgm-exporter there: GPU "
        "temperature, ECC and health alerts are blind for it.",
        "kubectl -n gpu-operator get pods -o wide | grep dcgm; the ClusterPolicy's dcgmExporter settings; "
        "the dcgm-exporter ServiceMonitor and its labels.",
        "Fix the GPU Operator's dcgm-exporter on the node (node labels, tolerations) or the ServiceMonitor.",
        "kubectl -n gpu-operator get pods -o wide | grep dcgm；ClusterPolicy 的 dcgmExporter 设置；"
        "dcgm-exporter 的 ServiceMonitor 及其标签。",
        "修复该节点上 GPU Operator 的 dcgm-exporter（节点标签、容忍）或 ServiceMonitor。",
        Case((_up(m.JOB_AIINFRA, "1x20"),), "80s", (NODE,)),
        Case((_up(m.JOB_AIINFRA, "1x20"), _up(m.JOB_DCGM, "1x20")), "80s"),
    ),
    lambda t: _alert(
        "DcgmExporterStale",
        f"changes({m.DCGM_ENERGY}[{t.exporter_stale_window}]) == 0",
        "0s",
        Severity.WARNING,
        "dcgm-exporter on {{ $labels.node }} repeats stale values for GPU {{ $labels.gpu }}",
        f"The GPU's energy counter has not moved for {t.exporter_stale_window}: dcgm-exporter answers but its "
        "DCGM data is frozen (hostengine hung, or a profiling lock).",
        "dcgm-exporter logs; dcgmi discovery -l and dcgmi dmon -e 155 on the node.",
        "Restart the dcgm-exporter pod (and nv-hostengine if it runs separately).",
        "dcgm-exporter 日志；在节点上运行 dcgmi discovery -l 与 dcgmi dmon -e 155。",
        "重启 dcgm-exporter Pod（若 nv-hostengine 单独运行也一并重启）。",
        Case(((f'{m.DCGM_ENERGY}{{node="gpu-1",gpu="3"}}', "1000x40"),), "150s", ({**NODE, "gpu": "3"},)),
        Case(((f'{m.DCGM_ENERGY}{{node="gpu-1",gpu="3"}}', "1000+500x40"),), "150s"),
    ),
    lambda t: _alert(
        "ExporterScrapeSlow",
        f'scrape_duration_seconds{{job=~"{m.JOB_NODE_EXPORTER}|{m.JOB_DCGM}|{m.JOB_AIINFRA}"}} > '
        f"{t.scrape_duration_fraction * t.scrape_timeout_seconds:g}",
        t.settle_for,
        Severity.WARNING,
        "{{ $labels.job }} on {{ $labels.node }} scrapes slowly",
        "The scrape takes most of its timeout: the next ones may time out and the target will look down.",
        "The exporter's logs and CPU/memory; for dcgm-exporter its known slow-scrape issues (MIG, profiling).",
        "Restart the exporter; disable the slow collector; raise the scrape timeout only as a last resort.",
        "导出器日志及 CPU/内存；dcgm-exporter 的已知慢抓取问题（MIG、profiling）。",
        "重启导出器；关闭较慢的采集器；最后才考虑加大抓取超时。",
        Case(
            ((f'scrape_duration_seconds{{node="gpu-1",job="{m.JOB_DCGM}"}}', "3.9x30"),),
            "100s",
            ({**NODE, "job": m.JOB_DCGM},),
        ),
        Case(((f'scrape_duration_seconds{{node="gpu-1",job="{m.JOB_DCGM}"}}', "0.2x30"),), "100s"),
    ),
    lambda t: _alert(
        "AiinfraCollectorFailing",
        f"{m.COLLECTOR_SUCCESS} == 0",
        t.settle_for,
        Severity.WARNING,
        "aiinfra exporter collector {{ $labels.collector }} fails on {{ $labels.node }}",
        "One collector of the aiinfra exporter cannot read its source; the alerts that use its metrics are blind.",
        "The exporter's log and its aiinfra_collector_errors_total; the sysfs/procfs paths or NVML call the "
        "collector reads.",
        "Fix the source (driver, mount); turn the collector off by flag if the hardware lacks it.",
        "导出器日志及 aiinfra_collector_errors_total；采集器读取的 sysfs/procfs 路径或 NVML 调用。",
        "修复数据源（驱动、挂载）；硬件不具备时用参数关闭该采集器。",
        Case(
            ((f'{m.COLLECTOR_SUCCESS}{{node="gpu-1",collector="bond"}}', "1 0x20"),),
            "80s",
            ({**NODE, "collector": "bond"},),
        ),
        Case(((f'{m.COLLECTOR_SUCCESS}{{node="gpu-1",collector="bond"}}', "1 0 1x20"),), "80s"),
    ),
    lambda t: _alert(
        "NodeConformanceFailed",
        f"{m.CONFORMANCE} == 0",
        t.settle_for,
        Severity.WARNING,
        "{{ $labels.node }} fails conformance check {{ $labels.check }} ({{ $labels.reason }})",
        "A node check (GPUDirect path, ACS, IOMMU, MTU, memlock, driver versions) fails: jobs run slower or "
        "fall back to sockets.",
        "aiinfra node check on the node: it names the failing check, the value "
        "found and the one expected; the reason label holds the finding codes.",
        "Fix the node setting the check names (see docs/node-checks.md); rerun aiinfra node check.",
        "在节点上运行 aiinfra node check：它会给出失败的检查项、实际值与期望值。",
        "按检查项修复节点设置；重新运行 aiinfra node check。",
        Case(
            ((f'{m.CONFORMANCE}{{node="gpu-1",check="gpudirect",reason="no-peermem"}}', "0x20"),),
            "80s",
            ({**NODE, "check": "gpudirect", "reason": "no-peermem"},),
        ),
        Case(((f'{m.CONFORMANCE}{{node="gpu-1",check="gpudirect",reason=""}}', "1x20"),), "80s"),
    ),
    lambda t: _alert(
        "GpuXidWatchDown",
        f"{m.XID_WATCH_UP} == 0",
        t.settle_for,
        Severity.WARNING,
        "XID events of {{ $labels.node }} GPU {{ $labels.gpu }} are not watched",
        "The aiinfra exporter could not register for NVML XID events on this GPU: GpuXidFatal is blind for it.",
        "The exporter's log for the NVML error; nvidia-smi on the node; the driver version.",
        "Restart the exporter pod; fix the driver if registration keeps failing.",
        "导出器日志中的 NVML 错误；在节点上运行 nvidia-smi；驱动版本。",
        "重启导出器 Pod；注册持续失败则修复驱动。",
        Case(((f'{m.XID_WATCH_UP}{{node="gpu-1",gpu="3"}}', "0x20"),), "80s", ({**NODE, "gpu": "3"},)),
        Case(((f'{m.XID_WATCH_UP}{{node="gpu-1",gpu="3"}}', "1x20"),), "80s"),
    ),
)
"""One alert per entry, built from the thresholds (``exporter_alerts``): the table of this module."""


def exporter_alerts(t: Thresholds) -> list[Alert]:
    """NodeDown (the inhibition source), exporter health and conformance."""
    return [spec(t) for spec in _EXPORTER_ALERTS]


def _down(name: str, job: str, what: str, t: Thresholds) -> Alert:
    return _alert(
        name,
        f'up{{job="{job}"}} == 0',
        t.settle_for,
        Severity.WARNING,
        f"{what} on {{{{ $labels.node }}}} is down",
        f"Prometheus cannot scrape {what} on this node: the alerts that read it are blind there.",
        "kubectl get pods -o wide on the node for the exporter pod, its restarts and logs; "
        "the target's error in Prometheus' /targets page.",
        "Fix the pod (image pull, OOM kill, crash loop); check the node if every exporter is down.",
        "kubectl get pods -o wide 查看该节点上的导出器 Pod、重启次数与日志；Prometheus /targets 页面中的错误。",
        "修复 Pod（镜像拉取、OOM、崩溃循环）；若所有导出器都宕机则检查节点本身。",
        Case((_up(job, "1 0x20"),), "80s", ({**NODE, "job": job},)),
        Case((_up(job, "1 0 1x20"),), "80s"),
    )

