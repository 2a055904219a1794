"""Supervised processes of the simulated cluster: start, check, stop, ports.

Each component runs detached (its own session, so it outlives the Python
process that started it and ``aiinfra sim down`` can stop it later) with
stdout and stderr in ``<state>/logs/<name>.log``. What runs is recorded in
``<state>/state.json`` by the caller; this module only knows pids, the
binary each pid must be running (to never signal a recycled pid) and ports.

Example:
    >>> from aiinfra.local_ports import free_port
    >>> from aiinfra.sim.processes import port_in_use
    >>> p = free_port()
    >>> port_in_use(p)
    False
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiinfra.errors import AiinfraError

HOST = "127.0.0.1"


@dataclass
class Proc:
    """One running component, as recorded in state.json."""

    name: str
    pid: int
    binary: str
    ports: dict[str, int] = field(default_factory=dict)
    log: str = ""

    def alive(self) -> bool:
        return pid_runs(self.pid, self.binary)

    def to_json(self) -> dict:
        return {"name": self.name, "pid": self.pid, "binary": self.binary, "ports": self.ports, "log": self.log}

    @classmethod
    def from_json(cls, data: dict) -> Proc:
        return cls(data["name"], int(data["pid"]), data["binary"], dict(data.get("ports", {})), data.get("log", ""))


def pid_runs(pid: int, binary: str) -> bool:
    """True when ``pid`` exists, is not a zombie and executes ``binary`` (guards against pid reuse)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        exe = os.readlink(f"/proc/{pid}/exe")
    except (OSError, IndexError):
        return False
    exe = exe.removesuffix(" (deleted)")
    return os.path.basename(exe) == os.path.basename(binary)


def port_in_use(port: int, host: str = HOST) -> bool:
    """True when something listens on ``host:port`` or the port cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def check_ports_free(name: str, ports: dict[str, int]) -> None:
    """Raise a clear error when a port a component needs is already taken."""
    for what, port in ports.items():
        if port_in_use(port):
            raise AiinfraError(
                f"cannot start {name}: port {port} ({what}) on {HOST} is already in use by another process; "
                f"stop it, or run 'aiinfra sim down' if it is a leftover simulated cluster"
            )


def start(
    name: str, argv: list[str], logs: Path, env: dict[str, str] | None = None, ports: dict[str, int] | None = None
) -> Proc:
    """Start ``argv`` detached, logging to ``logs/<name>.log``; returns its record."""
    check_ports_free(name, ports or {})
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    full_env = {**os.environ, **(env or {})}
    with open(log, "ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(argv)}\n".encode())
        out.flush()
        try:
            popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise AiinfraError(f"cannot start {name} ({argv[0]}): {exc.strerror}") from None
    return Proc(name, popen.pid, argv[0], dict(ports or {}), str(log))


def log_tail(proc: Proc, lines: int = 15) -> str:
    """The last lines of a component's log, for error messages."""
    try:
        text = Path(proc.log).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line[:400] for line in text[-lines:])


def wait_until(proc: Proc, ready: Callable[[], bool], timeout: float, what: str = "ready") -> None:
    """Poll ``ready`` until true; raise with the log tail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            if ready():
                return
        except OSError:
            pass
        if not proc.alive():
            _reap(proc.pid)
            raise AiinfraError(f"{proc.name} exited while starting; its log {proc.log} ends with:\n{log_tail(proc)}")
        if time.monotonic() > deadline:
            raise AiinfraError(
                f"{proc.name} did not become {what} within {timeout:.0f}s; "
                f"its log {proc.log} ends with:\n{log_tail(proc)}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def stop(proc: Proc, grace: float = 10.0) -> None:
    """SIGTERM the process (its whole session), then SIGKILL after ``grace`` seconds."""
    if not proc.alive():
        _reap(proc.pid)
        return
    _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(proc.pid)
        if not proc.alive():
            return
        time.sleep(0.05)
    _signal_group(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while proc.alive() and time.monotonic() < deadline:
        _reap(proc.pid)
        time.sleep(0.05)
    if proc.alive():
        raise AiinfraError(f"{proc.name} (pid {proc.pid}) did not stop after SIGKILL")


def wait_ports_released(ports: dict[str, int], timeout: float = 10.0) -> list[int]:
    """Wait until every port can be bound again; returns the ones still bound."""
    deadline = time.monotonic() + timeout
    busy = [p for p in ports.values() if port_in_use(p)]
    while busy and time.monotonic() < deadline:
        time.sleep(0.1)
        busy = [p for p in busy if port_in_use(p)]
    return busy


def _signal_group(pid: int, sig: int) -> None:
    try:
        if os.getpgid(pid) == pid:  # started with start_new_session: pid leads its group
            os.killpg(pid, sig)
            return
    except OSError:
        pass
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    except OSError:
        pass


def rss_kib(pid: int) -> int:
    """Peak resident memory (VmHWM) of a process in KiB, 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0
