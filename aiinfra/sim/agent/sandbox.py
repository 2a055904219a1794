"""The process that plays one pod: PID 1 of the pod's PID namespace, inside its mount and network namespaces.

The node agent starts ``ip netns exec <ns> unshare --mount --uts --pid --fork --mount-proc python -s
aiinfra/sim/agent/sandbox.py <plan.json>`` (as a script, so that it imports nothing but its siblings
probes.py and pod_mounts.py, before any mount covers them).
This process then sets up the pod's filesystem (:mod:`.pod_mounts`: the node's generated hardware at
/sys, the pod's volumes, a private ``/tmp`` and the pod's ``/etc/hosts``); runs the init containers
one after the other, then the containers, restarting them as the pod's restartPolicy says; runs their
probes; writes each container's output as CRI log lines (the format the kubelet's log reader, and so
kwok's, expects); and reports every change as one JSON line on stdout for the agent. On SIGTERM it
stops the containers as the kubelet does (SIGTERM, the grace period, SIGKILL). Being PID 1, its exit
ends every process left in the pod.

Example:
    >>> cri_line("stdout", b"hello\\n", 0.0)
    b'1970-01-01T00:00:00.000000000Z stdout F hello\\n'
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO, Any

if __package__:
    from aiinfra.sim.agent.pod_mounts import mount
    from aiinfra.sim.agent.probes import Probe
else:  # run as a script (one per pod): skip importing aiinfra (pydantic, the definition) to stay small
    from pod_mounts import mount  # type: ignore[no-redef]
    from probes import Probe  # type: ignore[no-redef]

_lock = threading.Lock()
_stopping = threading.Event()


def emit(**event: Any) -> None:
    """One status change for the agent (a JSON line on stdout)."""
    event["at"] = time.time()
    with _lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def cri_line(stream: str, data: bytes, when: float | None = None) -> bytes:
    """One CRI log line ('F' full line, 'P' partial), as containerd writes them."""
    t = time.time() if when is None else when
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e9):09d}Z"
    tag = "F" if data.endswith(b"\n") else "P"
    return f"{stamp} {stream} {tag} ".encode() + data.rstrip(b"\n") + b"\n"


def raise_limits() -> None:
    """Container runtimes give containers high hard limits (KubeRay's `ulimit -n 65536`, RDMA's memlock)."""
    import resource

    for what, value in ((resource.RLIMIT_NOFILE, 1048576), (resource.RLIMIT_MEMLOCK, resource.RLIM_INFINITY)):
        try:
            resource.setrlimit(what, (value, value))
        except (ValueError, OSError):
            pass


class Container:
    """One container: its process, log file and probes."""

    def __init__(self, spec: dict[str, Any], init: bool, log_dir: int) -> None:
        self.spec, self.init, self.name = spec, init, spec["name"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        # Log files are reached through a folder descriptor opened before /tmp was covered (the state
        # folder may live under /tmp).
        self.dir_fd, self.file = log_dir, os.path.basename(spec["log"])
        self.log: IO[bytes] = self._open()

    def _open(self) -> IO[bytes]:
        fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644, dir_fd=self.dir_fd)
        return os.fdopen(fd, "ab")

    def start(self) -> None:
        if self.restarts:
            with _lock:
                self.log.close()
                os.replace(self.file, self.file + ".previous", src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
                self.log = self._open()
        self.proc = subprocess.Popen(
            self.spec["argv"], env=self.spec["env"], cwd=self.spec.get("workdir") or "/",
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        for stream, pipe in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
            threading.Thread(target=self._copy, args=(stream, pipe), daemon=True).start()
        emit(c=self.name, init=self.init, state="running", restarts=self.restarts)

    def _copy(self, stream: str, pipe: IO[bytes] | None) -> None:
        assert pipe is not None
        for line in iter(pipe.readline, b""):
            with _lock:
                self.log.write(cri_line(stream, line))
                self.log.flush()

    def wait(self) -> int:
        assert self.proc is not None
        code = self.proc.wait()
        code = 128 - code if code < 0 else code  # killed by a signal: 128+n, as container runtimes report
        emit(c=self.name, init=self.init, state="terminated", code=code, restarts=self.restarts)
        return code

    def signal(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except OSError:
                pass

    def watch_probes(self) -> None:
        """Readiness decides 'ready'; a failing liveness probe kills the container (restart policy applies)."""
        ready = Probe.from_plan(self.spec["readiness"]) if self.spec.get("readiness") else None
        live = Probe.from_plan(self.spec["liveness"]) if self.spec.get("liveness") else None
        if ready is None:
            emit(c=self.name, ready=True)
        proc = self.proc
        started = time.monotonic()
        state: dict[str, Any] = {"ready": None, "fails": 0, "ok": 0}
        live_fails = 0
        next_ready = started + (ready.initial_delay if ready else 0)
        next_live = started + (live.initial_delay if live else 0)
        while not _stopping.is_set() and proc is not None and proc.poll() is None:
            now = time.monotonic()
            if ready and now >= next_ready:
                self._readiness(ready, state)
                next_ready = now + ready.period
            if live and now >= next_live:
                live_fails = 0 if live.check(self.spec["env"]) else live_fails + 1
                if live_fails >= live.failure_threshold:
                    emit(c=self.name, event="Unhealthy", message="liveness probe failed")
                    self.signal(signal.SIGKILL)
                next_live = now + live.period
            time.sleep(0.2)

    def _readiness(self, probe: Probe, state: dict[str, Any]) -> None:
        if probe.check(self.spec["env"]):
            state["ok"], state["fails"] = state["ok"] + 1, 0
            if state["ready"] is not True and state["ok"] >= probe.success_threshold:
                state["ready"] = True
                emit(c=self.name, ready=True)
        else:
            state["ok"], state["fails"] = 0, state["fails"] + 1
            if state["ready"] is not False and (state["ready"] is None or state["fails"] >= probe.failure_threshold):
                state["ready"] = False
                emit(c=self.name, ready=False)


def _restarts(policy: str, code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and code != 0)


def run_init(containers: list[Container], policy: str) -> bool:
    """Init containers in order, each to success; False when the pod failed (or is stopping)."""
    for c in containers:
        while not _stopping.is_set():
            c.start()
            if c.wait() == 0:
                break
            if policy == "Never" or _stopping.is_set():
                return False
            c.restarts += 1
            _stopping.wait(min(10.0, 2.0 ** min(c.restarts, 4)))
    return not _stopping.is_set()


def supervise(c: Container, policy: str) -> None:
    while not _stopping.is_set():
        c.start()
        threading.Thread(target=c.watch_probes, daemon=True).start()
        code = c.wait()
        if _stopping.is_set() or not _restarts(policy, code):
            return
        c.restarts += 1
        _stopping.wait(min(10.0, 2.0 ** min(c.restarts, 4)))  # CrashLoopBackOff, shortened


def reap_orphans(own: list[Container]) -> None:
    """PID 1's duty: collect exited processes that were re-parented to it (not the containers themselves,
    whose exit codes Popen must see)."""
    while True:
        time.sleep(2)
        mine = {c.proc.pid for c in own if c.proc}
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in mine:
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == "Z" and fields[1] == "1":
                try:
                    os.waitpid(int(entry), os.WNOHANG)
                except ChildProcessError:
                    pass


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        plan = json.load(f)
    signal.signal(signal.SIGTERM, lambda *_: _stopping.set())
    signal.signal(signal.SIGINT, lambda *_: _stopping.set())
    log_dir = os.open(os.path.dirname(plan["containers"][0]["log"]), os.O_RDONLY | os.O_DIRECTORY)
    raise_limits()
    try:
        mount(plan)
    except subprocess.CalledProcessError as exc:
        emit(pod="failed", reason="MountFailed", message=f"{exc.cmd}: {exc.stderr.decode(errors='replace')}")
        return 1
    policy = plan.get("restart_policy", "Always")
    inits = [Container(s, True, log_dir) for s in plan.get("init", [])]
    if not run_init(inits, policy):
        emit(pod="failed" if not _stopping.is_set() else "stopped", reason="InitFailed")
        return 1
    emit(pod="initialized")
    mains = [Container(s, False, log_dir) for s in plan["containers"]]
    threading.Thread(target=reap_orphans, args=(inits + mains,), daemon=True).start()
    threads = [threading.Thread(target=supervise, args=(c, policy), daemon=True) for c in mains]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) and not _stopping.is_set():
        time.sleep(0.2)
    if _stopping.is_set():
        for c in mains:
            c.signal(signal.SIGTERM)
        deadline = time.monotonic() + float(plan.get("grace", 30))
        while any(c.proc and c.proc.poll() is None for c in mains) and time.monotonic() < deadline:
            time.sleep(0.1)
        for c in mains:
            c.signal(signal.SIGKILL)
    for t in threads:
        t.join(timeout=5)
    emit(pod="stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
