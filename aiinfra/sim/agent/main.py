"""The agent's loop: nodes, pods to start and stop, /etc/hosts of the pods, ConfigMap volume refresh.

Example:
    >>> hosts_entries([{"metadata": {"name": "h", "namespace": "n"}, "spec": {"selector": {"r": "head"}}}],
    ...               [{"metadata": {"namespace": "n", "labels": {"r": "head"}}, "status": {"podIP": "10.245.0.2"}}])
    {'n': ['10.245.0.2\\th.n.svc.cluster.local h.n.svc h.n h']}
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

from aiinfra.netns.pods import PodNet, sim_id
from aiinfra.sim.agent import volumes
from aiinfra.sim.agent.node import heartbeat, now
from aiinfra.sim.agent.runner import PodRunner
from aiinfra.sim.nodes import PROCESS_NODE_LABEL
from aiinfra.sim.pki import Pki
from aiinfra.sim.rest import ApiError, Rest

HEARTBEAT_S = 10.0
log = logging.getLogger("aiinfra.sim.agent")


def hosts_entries(services: list[dict[str, Any]], pods: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Namespace -> /etc/hosts lines: each Service's cluster DNS names resolve to its first selected pod's IP.

    There is no kube-proxy or cluster DNS: the name leads straight to the pod (so a Service's port must
    equal its targetPort, as KubeRay's are).
    """
    out: dict[str, list[str]] = {}
    for svc in services:
        sel = (svc.get("spec") or {}).get("selector") or {}
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        if not sel:
            continue
        for pod in pods:
            labels = pod["metadata"].get("labels") or {}
            ip = (pod.get("status") or {}).get("podIP")
            if pod["metadata"]["namespace"] == ns and ip and all(labels.get(k) == v for k, v in sel.items()):
                out.setdefault(ns, []).append(f"{ip}\t{name}.{ns}.svc.cluster.local {name}.{ns}.svc {name}.{ns} {name}")
                break
    return out


class Agent:
    """Plays every node labelled ``aiinfra.io/sim-node=process``."""

    def __init__(self, state_dir: Path, server: str, kubelet_port: int) -> None:
        self.state, self.kubelet_port = state_dir, kubelet_port
        self.api = Rest(server, Pki(state_dir / "pki"))
        self.net = PodNet(sim_id(state_dir))
        self.runners: dict[str, PodRunner] = {}
        self.since: dict[str, str] = {}
        self.stopping = threading.Event()
        self._last_beat = 0.0
        self._last_refresh = 0.0

    def nodes(self) -> list[str]:
        body = self.api.get(f"/api/v1/nodes?labelSelector={PROCESS_NODE_LABEL}%3Dprocess") or {}
        return [n["metadata"]["name"] for n in body.get("items", [])]

    def run(self) -> None:
        self.net.ensure_bridge()
        while not self.stopping.is_set():
            try:
                self.sync()
            except (ApiError, OSError) as exc:
                log.warning("sync failed: %s", exc)
                self.api.close()
            self.stopping.wait(1.0)
        self.shutdown()

    def sync(self) -> None:
        nodes = self.nodes()
        if time.monotonic() - self._last_beat > HEARTBEAT_S:
            for node in nodes:
                heartbeat(self.api, node, self.kubelet_port, self.since.setdefault(node, now()))
            self._last_beat = time.monotonic()
        pods = (self.api.get("/api/v1/pods") or {}).get("items", [])
        mine = [p for p in pods if p["spec"].get("nodeName") in nodes]
        present = {p["metadata"]["uid"] for p in mine}
        for pod in mine:
            uid = pod["metadata"]["uid"]
            runner = self.runners.get(uid)
            if pod["metadata"].get("deletionTimestamp"):
                if runner is None:
                    self._force_delete(pod)
                else:
                    runner.stop()
            elif runner is None and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                self._start(pod)
        for uid, runner in list(self.runners.items()):
            if uid not in present:
                runner.stop()
            if runner.done.is_set():
                del self.runners[uid]
        self._write_hosts(pods)
        if time.monotonic() - self._last_refresh > 5.0:
            self._last_refresh = time.monotonic()
            for runner in self.runners.values():
                if not runner.deleting.is_set() and runner.dir.is_dir():
                    try:
                        volumes.refresh(runner.pod, runner.dir, runner.lookup)
                    except Exception as exc:  # a volume that vanished: the kubelet too keeps the last content
                        log.debug("refresh %s: %s", runner.name, exc)

    def _start(self, pod: dict[str, Any]) -> None:
        used = {r.slot for r in self.runners.values()}
        slot = next(i for i in range(1, 10000) if i not in used)
        tree = self.state / "nodes" / pod["spec"]["nodeName"]
        runner = PodRunner(self.api, pod, slot, self.net, self.state, tree if tree.is_dir() else None)
        self.runners[pod["metadata"]["uid"]] = runner
        runner.start()

    def _force_delete(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        body = {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}}
        self.api.request("DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}", body, ok_missing=True)

    def _write_hosts(self, pods: list[dict[str, Any]]) -> None:
        namespaces = sorted({r.ns for r in self.runners.values()})
        services = []
        for ns in namespaces:
            services += (self.api.get(f"/api/v1/namespaces/{ns}/services") or {}).get("items", [])
        entries = hosts_entries(services, pods)
        for r in self.runners.values():
            text = "\n".join(["127.0.0.1\tlocalhost", f"{r.ip}\t{r.name}", *entries.get(r.ns, [])]) + "\n"
            try:
                if r.hosts_file.read_text() != text:
                    with open(r.hosts_file, "r+", encoding="utf-8") as f:  # in place: the pod binds this inode
                        f.truncate(0)
                        f.write(text)
            except OSError:
                continue

    def shutdown(self) -> None:
        for r in self.runners.values():
            r.kill()
        for r in self.runners.values():
            r.done.wait(timeout=15)
        self.net.sweep()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aiinfra.sim.agent", description="node agent of process-backed nodes")
    p.add_argument("--state-dir", required=True, type=Path)
    p.add_argument("--server", required=True)
    p.add_argument("--kubelet-port", required=True, type=int)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    agent = Agent(args.state_dir, args.server, args.kubelet_port)
    signal.signal(signal.SIGTERM, lambda *_: agent.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: agent.stopping.set())
    agent.run()
    return 0
