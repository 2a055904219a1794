"""Command lines and readiness checks of each simulated-cluster component.

Start order (each waits for the one before): etcd, kube-apiserver, the CRDs,
kube-controller-manager, kube-scheduler, kwok, ray-operator. Everything
listens on 127.0.0.1 only, on ports chosen free at first start and kept in
state.json so a restart after ``down`` fails loudly if one got taken.

Example:
    >>> from aiinfra.sim.components import ORDER
    >>> ORDER[0], ORDER[-1]
    ('etcd', 'ray-operator')
"""

from __future__ import annotations

import http.client
import ssl
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiinfra.sim.pki import Pki
from aiinfra.sim.processes import HOST
from aiinfra.sim.tools import tool

ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "ray-operator")
PORTS = {
    "etcd": ("client", "peer"),
    "kube-apiserver": ("https",),
    "kube-controller-manager": ("https",),
    "kube-scheduler": ("https",),
    "kwok": ("server",),
    "ray-operator": ("metrics", "probe"),
}
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
HEAVY_QPS = ["--kube-api-qps=500", "--kube-api-burst=1000"]


@dataclass(frozen=True)
class Layout:
    """Files of one simulated cluster inside its state folder."""

    state: Path
    pki: Pki

    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def etcd_data(self) -> Path:
        return self.state / "etcd"

    @property
    def kwok_config(self) -> Path:
        return self.state / "kwok-stages.yaml"


def argv(name: str, lay: Layout, ports: dict[str, dict[str, int]]) -> list[str]:
    """The full command line of component ``name``."""
    build = _ARGV.get(name)
    if build is None:
        raise ValueError(name)
    return build(name, lay, ports.get(name, {}), ports)


def _etcd(name: str, lay: Layout, p: dict[str, int], ports: dict[str, dict[str, int]]) -> list[str]:
    client, peer = f"http://{HOST}:{p['client']}", f"http://{HOST}:{p['peer']}"
    return [
        tool("etcd"),
        "--name=sim",
        f"--data-dir={lay.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=sim={peer}",
        "--unsafe-no-fsync=true",
        "--auto-compaction-mode=periodic",
        "--auto-compaction-retention=5m",
        "--quota-backend-bytes=8589934592",
        "--max-request-bytes=4194304",
        "--log-level=warn",
    ]


def _kube_apiserver(name: str, lay: Layout, p: dict[str, int], ports: dict[str, dict[str, int]]) -> list[str]:
    etcd = f"http://{HOST}:{ports['etcd']['client']}"
    return [
        tool("kube-apiserver"),
        f"--etcd-servers={etcd}",
        f"--bind-address={HOST}",
        f"--secure-port={p['https']}",
        f"--advertise-address={HOST}",
        "--endpoint-reconciler-type=none",
        f"--tls-cert-file={lay.pki.server_cert}",
        f"--tls-private-key-file={lay.pki.server_key}",
        f"--client-ca-file={lay.pki.ca_cert}",
        f"--requestheader-client-ca-file={lay.pki.ca_cert}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={lay.pki.sa_pub}",
        f"--service-account-signing-key-file={lay.pki.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        "--enable-priority-and-fairness=false",
        "--max-requests-inflight=0",
        "--max-mutating-requests-inflight=0",
        f"--cert-dir={lay.state / 'certs' / 'apiserver'}",
        "--profiling=false",
        # Logs and port-forward of process-backed pods go through kwok's kubelet streaming server.
        f"--kubelet-client-certificate={lay.pki.kubelet_client_cert}",
        f"--kubelet-client-key={lay.pki.kubelet_client_key}",
        f"--kubelet-certificate-authority={lay.pki.ca_cert}",
        "--kubelet-preferred-address-types=InternalIP",
        "--v=1",
    ]


def _controller_or_scheduler(name: str, lay: Layout, p: dict[str, int], ports: dict[str, dict[str, int]]) -> list[str]:
    kc = str(lay.kubeconfig)
    common = [
        f"--kubeconfig={kc}",
        f"--authentication-kubeconfig={kc}",
        f"--authorization-kubeconfig={kc}",
        "--leader-elect=false",
        f"--bind-address={HOST}",
        f"--secure-port={p['https']}",
        f"--cert-dir={lay.state / 'certs' / name}",
        "--profiling=false",
        "--v=1",
    ]
    if name == "kube-scheduler":
        return [tool("kube-scheduler"), *common]
    return [
        tool("kube-controller-manager"),
        *common,
        *HEAVY_QPS,
        f"--service-account-private-key-file={lay.pki.sa_key}",
        f"--root-ca-file={lay.pki.ca_cert}",
        f"--cluster-signing-cert-file={lay.pki.ca_cert}",
        f"--cluster-signing-key-file={lay.pki.ca_key}",
        "--use-service-account-credentials=false",
        "--node-monitor-grace-period=60s",
    ]


def _kwok(name: str, lay: Layout, p: dict[str, int], ports: dict[str, dict[str, int]]) -> list[str]:
    kc = str(lay.kubeconfig)
    return [
        tool("kwok"),
        f"--kubeconfig={kc}",
        f"--config={lay.kwok_config}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--cidr={POD_CIDR}",
        "--node-ip=10.0.0.2",
        "--node-lease-duration-seconds=40",
        # The kubelet streaming server (logs, port-forward) for process-backed nodes, driven by the
        # PortForward and Logs objects the node agent creates per pod.
        f"--server-address={HOST}:{p['server']}",
        f"--tls-cert-file={lay.pki.kubelet_cert}",
        f"--tls-private-key-file={lay.pki.kubelet_key}",
        "--enable-crds=PortForward,Logs",
        "--v=WARN",
    ]


def _ray_operator(name: str, lay: Layout, p: dict[str, int], ports: dict[str, dict[str, int]]) -> list[str]:
    kc = str(lay.kubeconfig)
    return [
        tool("ray-operator"),
        f"--kubeconfig={kc}",
        "-enable-leader-election=false",
        f"-metrics-addr={HOST}:{p['metrics']}",
        # kuberay_cluster_* and kuberay_job_* are only emitted with this flag (controller-runtime's are always).
        "-enable-metrics",
        f"-health-probe-bind-address={HOST}:{p['probe']}",
        "-log-stdout-encoder=console",
        "-qps=200",
        "-burst=400",
    ]


_ARGV: dict[str, Callable[[str, Layout, dict[str, int], dict[str, dict[str, int]]], list[str]]] = {
    "etcd": _etcd,
    "kube-apiserver": _kube_apiserver,
    "kube-controller-manager": _controller_or_scheduler,
    "kube-scheduler": _controller_or_scheduler,
    "kwok": _kwok,
    "ray-operator": _ray_operator,
}


def env(name: str, lay: Layout) -> dict[str, str]:
    """Extra environment of a component (the operator reads KUBECONFIG through controller-runtime)."""
    return {"KUBECONFIG": str(lay.kubeconfig)} if name == "ray-operator" else {}


def _get(url: str, insecure: bool = False, timeout: float = 2.0) -> tuple[int, str]:
    ctx = ssl._create_unverified_context() if insecure else None
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=ctx) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (OSError, http.client.HTTPException):
        return 0, ""


def healthy(name: str, ports: dict[str, dict[str, int]]) -> bool:
    """One readiness probe of a component that serves HTTP (kube-apiserver is probed with Rest)."""
    p = ports.get(name, {})
    if name == "etcd":
        code, body = _get(f"http://{HOST}:{p['client']}/health")
        return code == 200 and '"health":"true"' in body.replace(" ", "")
    if name in ("kube-controller-manager", "kube-scheduler"):
        return _get(f"https://{HOST}:{p['https']}/healthz", insecure=True)[0] == 200
    if name == "ray-operator":
        return _get(f"http://{HOST}:{p['probe']}/readyz")[0] == 200
    if name == "kwok" and "server" in p:
        return _get(f"https://{HOST}:{p['server']}/healthz", insecure=True)[0] == 200
    return True
