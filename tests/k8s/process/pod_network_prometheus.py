"""A real Prometheus on the process nodes' pod network, with scrape targets resolved as prometheus-operator would.

Pod addresses live on the simulator's bridge, which the host never sends to. So Prometheus runs where a
Prometheus pod would: in its own network namespace with ``eth0`` on that bridge (``PodNet.create`` with a
slot far above the ones the node agent hands out; the simulator's sweep removes it with the pods'). Two
things cross between the namespaces, each through a TCP relay whose two sockets are opened in different
namespaces (``setns`` on the relay's own thread; a socket stays in the namespace it was created in):
the test reaches Prometheus' API on a host port, and Prometheus reaches the KubeRay operator's metrics,
which runs as a host process on 127.0.0.1 here instead of as a pod behind the ``kuberay-operator`` Service.

No prometheus-operator runs and Prometheus is built without Kubernetes discovery (``remove_all_sd``), so
:func:`service_monitor_targets` and :func:`pod_monitor_targets` do the operator's part: resolve the
monitor's selector against the API (the Service's Endpoints, or the pods), label each target with the
``__meta_kubernetes_*`` labels Kubernetes discovery would give it, and hand the monitor's relabelings to
Prometheus, which applies them itself.
"""

from __future__ import annotations

import ctypes
import os
import re
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

CLONE_NEWNET = 0x40000000
PROMETHEUS_SLOT = 9000
_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")


def in_netns(path: str, make: Callable[[], T]) -> T:
    """``make()`` run on a fresh thread that first joins the network namespace at ``path``."""
    box: dict[str, Any] = {}

    def run() -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns {path}")
            box["value"] = make()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            os.close(fd)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


class Relay:
    """Accepts in one namespace at ``listen``, connects in another to ``connect``, copies both ways."""

    def __init__(self, listen_ns: str, listen: tuple[str, int], connect_ns: str, connect: tuple[str, int]) -> None:
        self.connect_ns, self.connect = connect_ns, connect
        self.server = in_netns(listen_ns, lambda: socket.create_server(listen))
        self.address = self.server.getsockname()[:2]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            try:
                up = in_netns(self.connect_ns, lambda: socket.create_connection(self.connect, timeout=10))
            except OSError:
                conn.close()
                continue
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.server.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        src.close()
        dst.close()


def _meta_label(key: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


def _pod_meta(pod: Any) -> dict[str, str]:
    """The ``__meta_kubernetes_pod_*`` labels Kubernetes discovery gives a pod's target."""
    labels = {f"__meta_kubernetes_pod_label_{_meta_label(k)}": v for k, v in (pod.metadata.labels or {}).items()}
    return {
        **labels,
        "__meta_kubernetes_namespace": pod.metadata.namespace,
        "__meta_kubernetes_pod_name": pod.metadata.name,
        "__meta_kubernetes_pod_node_name": pod.spec.node_name or "",
        "__meta_kubernetes_pod_ip": pod.status.pod_ip or "",
    }


def relabel_configs(monitor_relabelings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A monitor's ``relabelings`` (camelCase CRD fields) as Prometheus ``relabel_configs``."""
    snake = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
    return [{snake.get(k, k): v for k, v in r.items()} for r in monitor_relabelings]


def _selector(sel: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items()]
    for e in sel.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin"}[e["operator"]]
        parts.append(f"{e['key']} {op} ({','.join(e['values'])})")
    return ",".join(parts)


def service_monitor_targets(core: Any, sm: dict[str, Any]) -> list[dict[str, Any]]:
    """Static targets for a ServiceMonitor's first endpoint: its Services' ready Endpoints on the named port."""
    ep = sm["spec"]["endpoints"][0]
    out = []
    for ns in sm["spec"]["namespaceSelector"]["matchNames"]:
        for svc in core.list_namespaced_service(ns, label_selector=_selector(sm["spec"]["selector"])).items:
            endpoints = core.read_namespaced_endpoints(svc.metadata.name, ns)
            for subset in endpoints.subsets or []:
                port = next(p.port for p in subset.ports if p.name == ep["port"])
                for addr in subset.addresses or []:
                    pod = core.read_namespaced_pod(addr.target_ref.name, ns)
                    labels = {**_pod_meta(pod), "job": svc.metadata.name, "namespace": ns, "pod": pod.metadata.name,
                              "service": svc.metadata.name, "endpoint": ep["port"]}  # fmt: skip
                    out.append({"targets": [f"{addr.ip}:{port}"], "labels": labels})
    return out


def pod_monitor_targets(core: Any, pm: dict[str, Any]) -> list[dict[str, Any]]:
    """Static targets for a PodMonitor's first endpoint: the selected pods' container port of that name."""
    ep = pm["spec"]["podMetricsEndpoints"][0]
    out = []
    for ns in pm["spec"]["namespaceSelector"]["matchNames"]:
        for pod in core.list_namespaced_pod(ns, label_selector=_selector(pm["spec"]["selector"])).items:
            ports = [p.container_port for c in pod.spec.containers for p in c.ports or [] if p.name == ep["port"]]
            if ports and pod.status.pod_ip:
                labels = {**_pod_meta(pod), "namespace": ns, "pod": pod.metadata.name, "endpoint": ep["port"]}
                out.append({"targets": [f"{pod.status.pod_ip}:{ports[0]}"], "labels": labels})
    return out
