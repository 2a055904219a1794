"""The state folder of a simulated cluster: state.json, a lock, cleaning.

Layout: ``state.json`` (what runs: pids, binaries, ports, nodes), ``pki/``,
``kubeconfig``, ``etcd/`` (data), ``kwok-stages.yaml``, ``certs/`` and
``logs/<component>.log``. A ``.aiinfra-sim`` marker makes sure a folder is
only ever cleaned when the simulator created it.

Example:
    >>> from pathlib import Path
    >>> from aiinfra.sim.state import load_state
    >>> load_state(Path("/nonexistent")) is None
    True
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

from aiinfra.errors import AiinfraError

MARKER = ".aiinfra-sim"
STATE = "state.json"
_KEEP = {"logs", MARKER, ".lock"}


def default_state_dir() -> Path:
    """``$AIINFRA_SIM_STATE``, else ``$XDG_STATE_HOME/aiinfra/sim`` (``~/.local/state/aiinfra/sim``)."""
    if os.environ.get("AIINFRA_SIM_STATE"):
        return Path(os.environ["AIINFRA_SIM_STATE"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "aiinfra" / "sim"


def load_state(state: Path) -> dict | None:
    """The recorded cluster, or None when the folder holds none."""
    path = state / STATE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AiinfraError(
            f"stale or damaged state file {path} ({exc}); remove the folder {state} "
            f"after making sure no simulated cluster process from it still runs"
        ) from None
    if not isinstance(data, dict) or "server" not in data or "processes" not in data:
        raise AiinfraError(f"{path} is not a simulated-cluster state file; remove it or pass another --state-dir")
    return data


def save_state(state: Path, data: dict) -> None:
    tmp = state / (STATE + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, state / STATE)


def prepare_fresh(state: Path) -> None:
    """Make ``state`` an empty simulator folder (keeping old logs); refuse folders it did not create."""
    if state.exists() and not state.is_dir():
        raise AiinfraError(f"state folder {state} is a file")
    state.mkdir(parents=True, exist_ok=True)
    entries = {p.name for p in state.iterdir()}
    if entries - _KEEP and MARKER not in entries:
        raise AiinfraError(
            f"state folder {state} is not empty and was not created by 'aiinfra sim'; pass an empty or new --state-dir"
        )
    (state / MARKER).touch()
    clear_state(state)


def clear_state(state: Path) -> None:
    """Remove everything the cluster wrote except logs (and the marker and lock)."""
    if not (state / MARKER).exists():
        return
    for entry in state.iterdir():
        if entry.name in _KEEP:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


class StateLock:
    """An exclusive lock on the state folder, so two ``up``/``down`` never interleave."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self._fd: int | None = None

    def __enter__(self) -> StateLock:
        try:
            self.state.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.state / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            raise AiinfraError(f"cannot use state folder {self.state}: {exc.strerror}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # another up/down on this folder: wait for it
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
