"""Ray and KubeRay alerts, from the KubeRay operator's metrics and Ray's own metrics port.

Ray pods are scraped through the rendered PodMonitor (job ``aiinfra-ray``), which copies the
pod labels ``ray.io/cluster`` and ``ray.io/node-type`` into ``ray_cluster`` and ``ray_node_type``.

Example:
    >>> from aiinfra.monitor.rules.ray import ray_alerts
    >>> from aiinfra.monitor.rules.thresholds import Thresholds
    >>> [a.name for a in ray_alerts(Thresholds())][:2]
    ['KubeRayOperatorDown', 'RayClusterNotProvisioned']
"""

from __future__ import annotations

from collections.abc import Callable

from aiinfra.monitor.rules import metrics as m
from aiinfra.monitor.rules.model import Alert, Case, Severity, alert_of
from aiinfra.monitor.rules.thresholds import Thresholds

CLUSTER = {"namespace": "ml", "ray_cluster": "a800"}


def _ray_up(node_type: str, pod: str, values: str) -> tuple[str, str]:
    return (
        f'up{{job="{m.JOB_RAY}",namespace="ml",ray_cluster="a800",ray_node_type="{node_type}",pod="{pod}"}}',
        values,
    )


def _start(node_type: str, pod: str) -> str:
    labels = f'namespace="ml",ray_cluster="a800",ray_node_type="{node_type}",pod="{pod}"'
    return f'{m.PROCESS_START}{{job="{m.JOB_RAY}",{labels}}}'


_alert = alert_of("ray")
_CLUSTER_NAME = f'label_replace({m.KUBERAY_CLUSTER_INFO}, "ray_cluster", "$1", "name", "(.+)")'
_HEAD_UP = f'up{{job="{m.JOB_RAY}",ray_node_type="head"}}'
_PROVISIONED = f'{m.KUBERAY_PROVISIONED}{{namespace="ml",name="a800",condition="false"}}'
_HEAD = {"job": m.JOB_RAY, **CLUSTER, "ray_node_type": "head", "pod": "a800-head-x"}
_WORKER = {"job": m.JOB_RAY, **CLUSTER, "ray_node_type": "worker", "pod": "a800-worker-1"}

_RAY_ALERTS: tuple[Callable[[Thresholds], Alert], ...] = (
    lambda t: _alert(
        "KubeRayOperatorDown",
        f'up{{job="{m.JOB_KUBERAY}"}} == 0',
        t.ray_for,
        Severity.WARNING,
        "KubeRay operator {{ $labels.pod }} is down",
        "Running Ray clusters keep running, but none is created, scaled or repaired while the operator is down.",
        "kubectl -n <operator namespace> get pods,events for the operator; its logs.",
        "Fix the operator deployment (image, RBAC, CRD versions); restart it.",
        "kubectl -n <operator 命名空间> get pods,events；operator 日志。",
        "修复 operator 部署（镜像、RBAC、CRD 版本）并重启。",
        Case(
            ((f'up{{job="{m.JOB_KUBERAY}",pod="kuberay-operator-0"}}', "1 0x40"),),
            "150s",
            ({"job": m.JOB_KUBERAY, "pod": "kuberay-operator-0"},),
        ),
        Case(((f'up{{job="{m.JOB_KUBERAY}",pod="kuberay-operator-0"}}', "1x40"),), "150s"),
    ),
    lambda t: _alert(
        "RayClusterNotProvisioned",
        f'{m.KUBERAY_PROVISIONED}{{condition="false"}} == 1',
        t.ray_provision_for,
        Severity.WARNING,
        "RayCluster {{ $labels.namespace }}/{{ $labels.name }} is not provisioned",
        f"KubeRay reports the RayCluster's pods not all ready for {t.ray_provision_for}.",
        "kubectl describe raycluster <name> (conditions, events); pending pods: kubectl get pods -l "
        "ray.io/cluster=<name> and their scheduling events (GPUs, RDMA resources, topology).",
        "Fix what blocks scheduling (capacity, taints, rail resources) or image pulls; aiinfra launch "
        "--dry-run shows the plan.",
        "kubectl describe raycluster <名称>（状况、事件）；Pending 的 Pod 及其调度事件（GPU、RDMA 资源、拓扑）。",
        "解决阻塞调度的问题（容量、污点、rail 资源）或镜像拉取问题；aiinfra launch --dry-run 可显示规划。",
        Case(((_PROVISIONED, "1x150"),), "700s", ({"namespace": "ml", "name": "a800", "condition": "false"},)),
        Case(((_PROVISIONED, "1x50 0x100"),), "700s"),
    ),
    lambda t: _alert(
        "RayHeadUnreachable",
        f"{_HEAD_UP} == 0",
        t.fast_for,
        Severity.CRITICAL,
        "Ray head {{ $labels.pod }} of RayCluster {{ $labels.namespace }}/{{ $labels.ray_cluster }} is unreachable",
        "Prometheus cannot reach the Ray head's metrics port: the head pod is gone or hung; jobs and the "
        "dashboard are unavailable and workers lose the GCS.",
        "kubectl get pod <head> -o wide, its restarts and logs; ray status from inside the head.",
        "Restart the head pod if hung (KubeRay recreates it; without GCS fault tolerance the cluster's jobs "
        "restart); check the node it ran on.",
        "kubectl get pod <head> -o wide 及其重启次数与日志；在 head 内运行 ray status。",
        "若挂起则重启 head Pod（KubeRay 会重建；未开启 GCS 容错时作业会重启）；检查其所在节点。",
        Case((_ray_up("head", "a800-head-x", "1 0x10"),), "20s", (_HEAD,)),
        Case((_ray_up("head", "a800-head-x", "1x10"), _ray_up("worker", "a800-worker-1", "0x10")), "20s"),
    ),
    lambda t: _alert(
        "RayHeadNotScraped",
        f"{_CLUSTER_NAME} unless on (namespace, ray_cluster) {_HEAD_UP}",
        t.ray_for,
        Severity.WARNING,
        "RayCluster {{ $labels.namespace }}/{{ $labels.ray_cluster }} has no scraped Ray head",
        "KubeRay knows the cluster but Prometheus has no target for its head: the PodMonitor does not match "
        "(missing metrics port or labels) or the head never started.",
        "kubectl get podmonitor aiinfra-ray -o yaml; the head pod's labels and its 'metrics' port (8080).",
        "Re-render the RayCluster with aiinfra (it declares the metrics port); apply the PodMonitor.",
        "kubectl get podmonitor aiinfra-ray -o yaml；head Pod 的标签及其 'metrics' 端口 (8080)。",
        "用 aiinfra 重新渲染 RayCluster（声明了 metrics 端口）；应用 PodMonitor。",
        Case(
            ((f'{m.KUBERAY_CLUSTER_INFO}{{namespace="ml",name="a800",owner_kind="None"}}', "1x40"),),
            "150s",
            ({"namespace": "ml", "name": "a800", "ray_cluster": "a800", "owner_kind": "None"},),
        ),
        Case(
            (
                (f'{m.KUBERAY_CLUSTER_INFO}{{namespace="ml",name="a800",owner_kind="None"}}', "1x40"),
                _ray_up("head", "a800-head-x", "1x40"),
            ),
            "150s",
        ),
    ),
    lambda t: _alert(
        "RayWorkerUnreachable",
        f'up{{job="{m.JOB_RAY}",ray_node_type="worker"}} == 0',
        t.ray_for,
        Severity.WARNING,
        "Ray worker {{ $labels.pod }} of RayCluster {{ $labels.namespace }}/{{ $labels.ray_cluster }} is unreachable",
        "A worker's metrics port does not answer: the worker pod is hung or its node is down; its ranks stall the job.",
        "kubectl get pod <worker> -o wide, restarts and logs; NodeDown for its node.",
        "Delete the hung pod (KubeRay recreates it); drain its node if the node is at fault.",
        "kubectl get pod <worker> -o wide、重启次数与日志；其所在节点的 NodeDown 告警。",
        "删除挂起的 Pod（KubeRay 会重建）；若节点故障则驱逐该节点。",
        Case((_ray_up("worker", "a800-worker-1", "1 0x40"),), "150s", (_WORKER,)),
        Case((_ray_up("worker", "a800-worker-1", "1x40"),), "150s"),
    ),
    lambda t: _alert(
        "RayWorkerRestarts",
        f'changes({m.PROCESS_START}{{job="{m.JOB_RAY}",ray_node_type="worker"}}[{t.ray_restart_window}]) > 0',
        "0s",
        Severity.WARNING,
        "Ray worker {{ $labels.pod }} of RayCluster {{ $labels.namespace }}/{{ $labels.ray_cluster }} restarted",
        "The Ray node in a worker pod started again (its metrics agent's start time changed): the container "
        "restarted, its ranks were lost and the training run restarts from a checkpoint.",
        "kubectl describe pod <pod> (last state: OOMKilled, Error, exit code); the previous container's logs "
        "(kubectl logs --previous); GPU and IB alerts on its node.",
        "OOM: raise memory or lower the batch; error: the job owner's logs; hardware: drain the node.",
        "kubectl describe pod <pod>（上次状态：OOMKilled、Error、"
        "退出码）；kubectl logs --previous；其节点上的 GPU 与 IB 告警。",
        "OOM：增加内存或减小 batch；程序错误：查看作业日志；硬件问题：驱逐节点。",
        Case(((_start("worker", "a800-worker-1"), "100 100 400x10"),), "45s", (_WORKER,)),
        Case(
            ((_start("worker", "a800-worker-1"), "100x200"), (_start("head", "a800-head-x"), "100 400x200")),
            "1000s",
        ),
    ),
)
"""One alert per entry, built from the thresholds (``ray_alerts``): the table of this module."""


def ray_alerts(t: Thresholds) -> list[Alert]:
    """KubeRay operator, RayCluster provisioning, head and worker reachability, worker restarts."""
    return [spec(t) for spec in _RAY_ALERTS]
