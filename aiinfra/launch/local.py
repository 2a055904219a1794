"""The embedded default: a Ray cluster of local processes on this machine.

``ray start`` launches a head and one Ray node per worker, each with its own
CPUs (and GPUs, on a workstation), so multi-node code paths (placement groups,
rank maps, collectives across nodes) run on a laptop exactly as on a
RayCluster. The cluster outlives the notebook that made it; its ports and
processes are recorded under ``$AIINFRA_HOME/local/<name>`` (default
``~/.aiinfra``), which is how :func:`aiinfra.connect` finds it again.

Example:
    >>> from aiinfra.definition import load_definition
    >>> b = LocalRayBackend(load_definition("clusters/local.yaml"), "demo", workers=2)
    >>> b.state_dir.name
    'demo'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from aiinfra.definition.loader import load_definition
from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import AiinfraError, ClusterNotFound, UsageError
from aiinfra.launch.protocol import ClusterStatus, NodeStatus
from aiinfra.launch.ray_state import ray_nodes
from aiinfra.local_ports import free_port

# Each Ray node gets a small object store: a laptop runs several of them.
_OBJECT_STORE_BYTES = 200 * 1024 * 1024


def aiinfra_home() -> Path:
    """Where aiinfra keeps local state (AIINFRA_HOME, default ~/.aiinfra)."""
    return Path(os.environ.get("AIINFRA_HOME", Path.home() / ".aiinfra"))


class LocalRayBackend:
    """A multi-node Ray cluster made of processes on this machine."""

    shares_filesystem = True
    """Jobs see this machine's files: a working_dir runs in place, not uploaded."""

    def __init__(self, definition: ClusterDefinition, name: str, workers: int) -> None:
        self.definition = definition
        self.name = name
        self.workers = workers
        self.state_dir = aiinfra_home() / "local" / name
        # Ray's unix sockets live under the temp dir and paths are capped at 107 bytes. The hash of
        # the state directory keeps two homes' (users', CI jobs') clusters of one name apart.
        home = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:8]
        self.temp_dir = Path("/tmp/aiinfra-ray") / f"{name[:24]}-{home}"
        self._gcs = ""

    @classmethod
    def attach(cls, definition: ClusterDefinition, name: str) -> LocalRayBackend:
        """Re-attach to a cluster started earlier (from another process)."""
        state = aiinfra_home() / "local" / name / "state.json"
        if not state.exists():
            raise ClusterNotFound(f"no local cluster '{name}' (looked for {state})")
        data = json.loads(state.read_text())
        backend = cls(definition, name, data["workers"])
        backend.temp_dir = Path(data.get("temp_dir") or backend.temp_dir)  # as recorded when it started
        return backend

    def find_running(self) -> tuple[LocalRayBackend, ClusterDefinition, int] | None:
        """(handle, definition, workers) of the cluster already running under this name, if any."""
        state = self._state()
        if state is None:
            return None
        # Its processes, not its dashboard: a busy machine answers HTTP late, and that is no reason to refuse.
        if not any(_belongs(p, self.temp_dir) for p in psutil.process_iter(["cmdline"])):
            raise AiinfraError(
                f"a local cluster named '{self.name}' is recorded but none of its processes runs "
                f"(stopped, or the machine restarted): `aiinfra down {self.name}` clears it"
            )
        if state.get("spec"):
            running = ClusterDefinition.model_validate(state["spec"])
        else:  # recorded before the definition itself was: the file it came from
            running = load_definition(state["definition"])
        return LocalRayBackend(running, self.name, int(state["workers"])), running, int(state["workers"])

    def create(self) -> None:
        if self._state() is not None:
            raise UsageError(f"a local cluster named '{self.name}' exists; connect to it or `aiinfra down {self.name}`")
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        self._new_token()
        gcs_port, dash_port = free_port(), free_port()
        self._gcs = f"127.0.0.1:{gcs_port}"
        local = self.definition.local
        head = [
            "--head",
            f"--port={gcs_port}",
            f"--dashboard-port={dash_port}",
            "--dashboard-host=127.0.0.1",
            "--include-dashboard=true",
            "--num-cpus=1",
            "--num-gpus=0",
        ]
        self._ray_start(head, "head")
        self._write_state({"workers": self.workers, "gcs": f"127.0.0.1:{gcs_port}", "dashboard_port": dash_port})
        for i in range(self.workers):
            self._ray_start(
                [
                    f"--address=127.0.0.1:{gcs_port}",
                    f"--num-cpus={local.cpus_per_worker}",
                    f"--num-gpus={local.gpus_per_worker}",
                    f"--resources={json.dumps({f'aiinfra_worker_{i}': 1})}",
                    # All local nodes share one logs folder; the head's log monitor already
                    # streams every worker's output, a second one would repeat each line.
                    "--include-log-monitor=false",
                ],
                f"worker-{i}",
            )

    def status(self) -> ClusterStatus:
        state = self._state()
        if state is None:
            return ClusterStatus(self.name, "local", "absent", False, self.workers, 0)
        url = f"http://127.0.0.1:{state['dashboard_port']}"
        nodes = _ray_nodes(url, self._headers())
        workers = [n for n in nodes if n.role == "worker" and n.state == "ALIVE"]
        ready = len(workers) >= self.workers
        reasons = [] if ready else [f"{len(workers)}/{self.workers} worker nodes have joined Ray"]
        return ClusterStatus(
            self.name, "local", "ready" if ready else "starting", ready, self.workers, len(workers), url, nodes, reasons
        )

    def after_ready(self) -> None:
        """Nothing to publish: local nodes carry no fabric labels."""

    def dashboard(self) -> tuple[str, dict[str, str]]:
        state = self._state()
        if state is None:
            raise ClusterNotFound(f"local cluster '{self.name}' is not running")
        return f"http://127.0.0.1:{state['dashboard_port']}", self._headers()

    def delete(self) -> None:
        """Stop every process of this cluster (and only this one), then remove its state."""
        procs = [p for p in psutil.process_iter(["cmdline"]) if _belongs(p, self.temp_dir)]
        for p in procs:
            _signal(p, signal.SIGTERM)
        _, alive = psutil.wait_procs(procs, timeout=10)
        for p in alive:
            _signal(p, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def _ray_start(self, args: list[str], what: str) -> None:
        # Loopback only: a local cluster must never listen on the machine's other addresses.
        # The agent's HTTP port defaults to a fixed 52365: give every node its own, so several
        # local clusters (and several nodes of one) can run side by side.
        cmd = [
            *_ray_cli(),
            "start",
            *args,
            f"--temp-dir={self.temp_dir}",
            "--node-ip-address=127.0.0.1",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--object-store-memory={_OBJECT_STORE_BYTES}",
            "--disable-usage-stats",
        ]
        # RAY_ADDRESS: Ray code inside the cluster that looks for "its" cluster (Ray Train's placement
        # group cleaner, the state API) finds this one, not another local cluster beside it.
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ADDRESS": self._gcs, **self.ray_auth_env()}
        env.pop("RAY_AUTH_TOKEN_PATH", None)  # the token given above is the one; never a stray file
        # The dashboard gets 60 s to start and each of its modules 30 s, then `ray start --head`
        # fails: a laptop busy with other work (a build, a second cluster) misses that. Waiting
        # longer costs nothing when it is not busy.
        env.setdefault("RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT", "150")
        env.setdefault("RAY_DASHBOARD_STARTUP_TIMEOUT_S", "170")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        except subprocess.TimeoutExpired:
            self.delete()  # what it started so far must not outlive the failed launch
            raise AiinfraError(f"starting the local Ray {what} took over 300 s (is this machine overloaded?)") from None
        if proc.returncode != 0:
            self.delete()
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            # Ray ends with the dashboard log's last lines, mostly INFO: keep the error lines too.
            errors = [ln for ln in lines[:-8] if "Error" in ln or "Exception" in ln or "Timeout" in ln][-4:]
            tail = "\n".join([*errors, *lines[-8:]])
            raise AiinfraError(f"starting the local Ray {what} failed:\n{tail}")

    def ray_auth_env(self) -> dict[str, str]:
        """RAY_AUTH_MODE (and the token) every process of this cluster, drivers included, runs with.

        Set explicitly because Ray's default moves: off up to 2.58; from 2.59 `ray start` turns it on
        whenever a token file exists in ~/.ray, which left a cluster and its clients disagreeing.
        Other users of this machine can reach 127.0.0.1 too, so local clusters use a token of
        their own, kept (mode 0600) in the cluster's state directory.
        """
        token = self._token()
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token} if token else {"RAY_AUTH_MODE": "disabled"}

    def driver_env(self) -> dict[str, str]:
        """RAY_ADDRESS and the auth variables a driver on this machine joins the cluster with."""
        state = self._state()
        if state is None:
            raise ClusterNotFound(f"local cluster '{self.name}' is not running")
        return {"RAY_ADDRESS": state["gcs"], **self.ray_auth_env()}

    def _new_token(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / "auth_token"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))

    def _token(self) -> str | None:
        path = self.state_dir / "auth_token"
        return path.read_text().strip() if path.exists() else None

    def _headers(self) -> dict[str, str]:
        token = self._token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _state(self) -> dict | None:
        path = self.state_dir / "state.json"
        return json.loads(path.read_text()) if path.exists() else None

    def _write_state(self, data: dict) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = {
            **data,
            "definition": self.definition.source,
            # What launch() compares a re-run against (it re-attaches only to the same definition).
            "spec": self.definition.model_dump(mode="json"),
            "temp_dir": str(self.temp_dir),
        }
        (self.state_dir / "state.json").write_text(json.dumps(data, indent=2))


def local_cluster_names() -> list[str]:
    """Names of local clusters with recorded state."""
    root = aiinfra_home() / "local"
    return sorted(p.name for p in root.iterdir() if (p / "state.json").exists()) if root.exists() else []


def local_definition_path(name: str) -> str | None:
    """The definition file a local cluster was launched from."""
    state = aiinfra_home() / "local" / name / "state.json"
    return json.loads(state.read_text()).get("definition") if state.exists() else None


def _ray_nodes(dashboard: str, headers: dict[str, str]) -> list[NodeStatus]:
    """Nodes from the dashboard's state API (no need to join Ray from this process)."""
    out = []
    for n in ray_nodes(dashboard, headers) or []:
        resources = n.get("resources_total", {})
        role = "head" if n.get("is_head_node") else "worker"
        out.append(NodeStatus(n["node_id"][:12], role, n.get("state", "?"), float(resources.get("GPU", 0))))
    return out


def _belongs(p: psutil.Process, temp_dir: Path) -> bool:
    try:
        cmdline = " ".join(p.info["cmdline"] or [])
    except (psutil.Error, TypeError):
        return False
    # The directory itself, not a prefix of it: cluster 'a' must not take cluster 'a-b' with it.
    return re.search(re.escape(str(temp_dir)) + r"(/|\s|$)", cmdline) is not None and p.pid != os.getpid()


def _signal(p: psutil.Process, sig: int) -> None:
    with contextlib.suppress(psutil.Error):
        p.send_signal(sig)


def _ray_cli() -> list[str]:
    """The `ray` of the Ray this process imports: a PATH `ray` from another environment would
    start a cluster of another version (and another auth default) than the client's."""
    beside = Path(sys.executable).parent / "ray"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    return [sys.executable, "-m", "ray.scripts.scripts"]
