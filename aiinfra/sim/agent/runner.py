"""One pod on a process-backed node, from binding to deletion, as the kubelet plays it.

A :class:`PodRunner` thread creates the pod's network namespace, resolves its configuration (a
missing Secret keeps it waiting with ``CreateContainerConfigError``, retried), writes the
sandbox's plan, registers the pod with kwok's streaming server (a PortForward whose command enters
the pod's network namespace and dials localhost, as the kubelet does, and a Logs object per
container), starts the sandbox and turns its events into the pod's status through the status
subresource. Deletion follows the kubelet: SIGTERM to the sandbox, which gives the containers the
grace period and then SIGKILL; once every process is gone the pod is deleted with grace period 0.

Example:
    >>> status_of({"ready": True, "state": "running", "restarts": 1, "startedAt": "t"}, "c", "img", "u")["restartCount"]
    1
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiinfra.netns.pods import PodNet
from aiinfra.sim.agent import podspec, volumes
from aiinfra.sim.agent.node import MERGE, now
from aiinfra.sim.rest import ApiError, Rest

KWOK_API = "/apis/kwok.x-k8s.io/v1alpha1/namespaces"
SHARED_STORAGE = "shared-storage"
"""Folder of the simulator's state holding its NFS exports and PVCs, one folder each, shared by all its nodes."""
SANDBOX = Path(__file__).with_name("sandbox.py")
# The image's software: here the local Python's, and this aiinfra package, which an image would hold too.
# A checkout under /tmp (a CI clone) would vanish behind the pod's private /tmp: the sandbox keeps it.
IMAGE_PATHS = [str(Path(__file__).resolve().parents[2])]
RELAY = Path(__file__).with_name("relay.py")
"""Run inside the pod's network namespace by kwok: joins the port-forward stream to localhost:<port>."""


def status_of(c: dict[str, Any], name: str, image: str, uid: str) -> dict[str, Any]:
    """A containerStatuses entry from the sandbox's view of one container."""
    state: dict[str, Any]
    if c.get("state") == "running":
        state = {"running": {"startedAt": c["startedAt"]}}
    elif c.get("state") == "terminated":
        reason = "Completed" if c["code"] == 0 else "Error"
        state = {"terminated": {"exitCode": c["code"], "reason": reason, "startedAt": c.get("startedAt"),
                                "finishedAt": c.get("finishedAt"), "containerID": f"sim://{uid}/{name}"}}  # fmt: skip
    else:
        state = {"waiting": {"reason": c.get("reason", "PodInitializing"), "message": c.get("message", "")}}
    return {
        "name": name, "image": image, "imageID": "", "containerID": f"sim://{uid}/{name}",
        "ready": bool(c.get("ready")) and c.get("state") == "running", "started": c.get("state") == "running",
        "restartCount": int(c.get("restarts", 0)), "state": state, "lastState": c.get("last", {}),
    }  # fmt: skip


class PodRunner(threading.Thread):
    """Plays one pod; ``stop()`` when the pod is being deleted."""

    def __init__(self, api: Rest, pod: dict[str, Any], slot: int, net: PodNet, root: Path, node_tree: Path | None):
        super().__init__(name=f"pod-{pod['metadata']['name']}", daemon=True)
        self.api, self.pod, self.slot, self.net, self.node_tree = api, pod, slot, net, node_tree
        meta = pod["metadata"]
        self.ns, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.dir = root / "pods" / self.uid
        self.shared = root / SHARED_STORAGE
        self.hosts_file = self.dir / "hosts"
        self.ip = net.address(slot)
        self.deleting = threading.Event()
        self.done = threading.Event()
        self.sandbox: subprocess.Popen[bytes] | None = None
        self.containers: dict[str, dict[str, Any]] = {}
        self.initialized = False
        self.started = now()
        self.transitions: dict[str, tuple[str, str]] = {}

    # -- the pod's life ----------------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # keep the agent alive; the pod shows why it failed
            self._patch(phase="Failed", reason="AgentError", message=str(exc)[:500])
        self.deleting.wait()  # a finished pod stays (Succeeded/Failed) until it is deleted
        try:
            self._finish_delete()
        finally:
            self.done.set()

    def _run(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hosts_file.touch()
        (self.dir / "resolv.conf").write_text(
            f"nameserver 127.0.0.1\nsearch {self.ns}.svc.cluster.local svc.cluster.local cluster.local\n"
        )
        self.net.create(self.slot)
        self.pod.setdefault("status", {})["podIP"] = self.ip
        self.pod["status"]["hostIP"] = "127.0.0.1"
        plan = self._plan_when_configured()
        if plan is None:
            return
        (self.dir / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
        self._register_streams(plan)
        self._patch()
        argv = ["ip", "netns", "exec", self.net.netns(self.slot), "unshare", "--mount", "--uts", "--pid", "--fork",
                "--mount-proc", "--propagation", "private", "--kill-child",
                sys.executable, "-s", str(SANDBOX), str(self.dir / "plan.json")]  # fmt: skip
        with open(self.dir / "sandbox.err", "ab") as err:
            self.sandbox = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, cwd="/")
        assert self.sandbox.stdout is not None
        for line in self.sandbox.stdout:
            try:
                self._event(json.loads(line))
            except ValueError:
                continue
        self.sandbox.wait()
        if not self.deleting.is_set():
            self._finished()

    def _plan_when_configured(self) -> dict[str, Any] | None:
        spec = self.pod["spec"]
        while not self.deleting.is_set():
            try:
                log_dir = self.dir / "logs"
                log_dir.mkdir(exist_ok=True)
                return {
                    "pod": f"{self.ns}/{self.name}",
                    "restart_policy": spec.get("restartPolicy", "Always"),
                    "grace": spec.get("terminationGracePeriodSeconds", 30),
                    "hosts_file": str(self.hosts_file),
                    "resolv_file": str(self.dir / "resolv.conf"),
                    "hostname": spec.get("hostname") or self.name,
                    "node_tree": str(self.node_tree) if self.node_tree else None,
                    "image_paths": IMAGE_PATHS,
                    "mounts": volumes.mounts(self.pod, self.dir, self.lookup, self.node_tree, self.shared),
                    "init": [podspec.container_plan(self.pod, c, self.lookup, log_dir)
                             for c in spec.get("initContainers") or []],
                    "containers": [podspec.container_plan(self.pod, c, self.lookup, log_dir)
                                   for c in spec["containers"]],
                }  # fmt: skip
            except podspec.ConfigError as exc:
                for c in [*(spec.get("initContainers") or []), *spec["containers"]]:
                    self.containers[c["name"]] = {"reason": "CreateContainerConfigError", "message": str(exc)}
                self._patch()
                self.deleting.wait(2.0)
        return None

    def lookup(self, kind: str, ns: str, name: str) -> dict[str, Any] | None:
        return self.api.get(f"/api/v1/namespaces/{ns}/{kind}/{name}")

    def _register_streams(self, plan: dict[str, Any]) -> None:
        """kwok's kubelet streaming server learns this pod's ports and log files."""
        netns = self.net.path(self.slot)
        ports = sorted({int(p["containerPort"]) for c in self.pod["spec"]["containers"] for p in c.get("ports") or []}
                       | {6379, 8265, 10001, 8080, 52365})  # fmt: skip
        cmd = ["nsenter", f"--net={netns}", sys.executable, "-I", str(RELAY)]
        forwards = [{"ports": [p], "command": [*cmd, str(p)]} for p in ports]
        owner = {"apiVersion": "v1", "kind": "Pod", "name": self.name, "uid": self.uid}
        meta = {"name": self.name, "namespace": self.ns, "ownerReferences": [owner]}
        self.api.create(f"{KWOK_API}/{self.ns}/portforwards", {
            "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "PortForward", "metadata": meta,
            "spec": {"forwards": forwards}})  # fmt: skip
        for c in [*plan["init"], *plan["containers"]]:
            Path(c["log"]).touch()
        logs = [{"containers": [c["name"]], "logsFile": c["log"], "previousLogsFile": c["log"] + ".previous",
                 "follow": True} for c in [*plan["init"], *plan["containers"]]]  # fmt: skip
        self.api.create(f"{KWOK_API}/{self.ns}/logs", {
            "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs", "metadata": meta,
            "spec": {"logs": logs}})  # fmt: skip

    # -- status ------------------------------------------------------------------------------------------------
    def _event(self, ev: dict[str, Any]) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ev.get("at", time.time())))
        if "c" in ev:
            c = self.containers.setdefault(ev["c"], {})
            if ev.get("state") == "running":
                if c.get("state") == "terminated":
                    reason = "Error" if c["code"] else "Completed"
                    ended = {"exitCode": c["code"], "reason": reason, "finishedAt": c.get("finishedAt")}
                    c["last"] = {"terminated": {**ended, "startedAt": c.get("startedAt")}}
                c.update(state="running", startedAt=stamp, restarts=ev.get("restarts", 0), ready=False)
            elif ev.get("state") == "terminated":
                c.update(state="terminated", code=ev["code"], finishedAt=stamp, ready=False)
            if "ready" in ev:
                c["ready"] = ev["ready"]
        if ev.get("pod") == "initialized":
            self.initialized = True
        self._patch()

    def _phase(self) -> str:
        mains = [self.containers.get(c["name"], {}) for c in self.pod["spec"]["containers"]]
        if not self.initialized:
            return "Pending"
        if any(c.get("state") == "running" for c in mains):
            return "Running"
        if mains and all(c.get("state") == "terminated" for c in mains):
            policy = self.pod["spec"].get("restartPolicy", "Always")
            if policy == "Never" or (policy == "OnFailure" and all(c["code"] == 0 for c in mains)):
                return "Succeeded" if all(c["code"] == 0 for c in mains) else "Failed"
            return "Running"
        return "Pending"

    def _condition(self, kind: str, ok: bool) -> dict[str, Any]:
        value = "True" if ok else "False"
        if self.transitions.get(kind, ("", ""))[0] != value:
            self.transitions[kind] = (value, now())
        return {"type": kind, "status": value, "lastTransitionTime": self.transitions[kind][1], "lastProbeTime": None}

    def _patch(self, phase: str | None = None, reason: str = "", message: str = "") -> None:
        spec = self.pod["spec"]
        image = {c["name"]: c.get("image", "") for c in [*(spec.get("initContainers") or []), *spec["containers"]]}
        mains = [status_of(self.containers.get(c["name"], {}), c["name"], image[c["name"]], self.uid)
                 for c in spec["containers"]]  # fmt: skip
        inits = [status_of(self.containers.get(c["name"], {}), c["name"], image[c["name"]], self.uid)
                 for c in spec.get("initContainers") or []]  # fmt: skip
        ready = self.initialized and all(m["ready"] for m in mains)
        status: dict[str, Any] = {
            "phase": phase or self._phase(), "podIP": self.ip, "podIPs": [{"ip": self.ip}], "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}], "startTime": self.started, "containerStatuses": mains,
            "conditions": [self._condition("PodReadyToStartContainers", True),
                           self._condition("Initialized", self.initialized), self._condition("ContainersReady", ready),
                           self._condition("Ready", ready), {"type": "PodScheduled", "status": "True"}],
        }  # fmt: skip
        if inits:
            status["initContainerStatuses"] = inits
        if reason:
            status.update(reason=reason, message=message)
        try:
            path = f"/api/v1/namespaces/{self.ns}/pods/{self.name}/status"
            self.api.request("PATCH", path, {"status": status}, MERGE)
        except ApiError as exc:
            if exc.status not in (404, 409):
                raise

    def _finished(self) -> None:
        """The sandbox ended on its own (containers done under Never/OnFailure, or a failure)."""
        self._patch()

    # -- deletion ----------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Begin the kubelet's deletion: SIGTERM the pod's PID 1 (it applies the grace period)."""
        if self.deleting.is_set():
            return
        self.deleting.set()
        pid1 = self._pid1()
        if pid1:
            os.kill(pid1, signal.SIGTERM)  # not started yet: run() leaves its configuration wait

    def kill(self) -> None:
        """The agent is going down: end the pod now."""
        self.deleting.set()
        if self.sandbox is not None and self.sandbox.poll() is None:
            pid1 = self._pid1()
            if pid1:
                os.kill(pid1, signal.SIGKILL)
            self.sandbox.kill()

    def _pid1(self) -> int | None:
        """The host pid of the sandbox (PID 1 in the pod): the child of unshare --fork."""
        if self.sandbox is None or self.sandbox.poll() is not None:
            return None
        try:
            children = Path(f"/proc/{self.sandbox.pid}/task/{self.sandbox.pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def _finish_delete(self) -> None:
        if self.sandbox is not None:
            try:
                self.sandbox.wait(timeout=float(self.pod["spec"].get("terminationGracePeriodSeconds", 30)) + 10)
            except subprocess.TimeoutExpired:
                self.kill()
                self.sandbox.wait()
        self.net.delete(self.slot)
        shutil.rmtree(self.dir, ignore_errors=True)
        for kind in ("portforwards", "logs"):
            self.api.request("DELETE", f"{KWOK_API}/{self.ns}/{kind}/{self.name}", ok_missing=True)
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                "preconditions": {"uid": self.uid}}  # fmt: skip
        try:
            self.api.request("DELETE", f"/api/v1/namespaces/{self.ns}/pods/{self.name}", body, ok_missing=True)
        except ApiError as exc:
            if exc.status != 409:
                raise
