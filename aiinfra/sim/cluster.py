"""What a running simulated cluster is: its record in ``<state_dir>/state.json`` and its status.

Example:
    >>> from pathlib import Path
    >>> SimStatus(Path("/tmp/none"), None).running
    False
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aiinfra.sim import nodes as _nodes
from aiinfra.sim import processes as _proc
from aiinfra.sim.components import Layout
from aiinfra.sim.pki import Pki
from aiinfra.sim.rest import Rest


@dataclass
class SimCluster:
    """A running simulated cluster, as recorded in ``<state_dir>/state.json``."""

    state_dir: Path
    name: str
    definition: str
    server: str
    nodes: int
    processes: dict[str, _proc.Proc]
    nodes_per_leaf: int = _nodes.NODES_PER_GROUP
    process_nodes: int = 0
    reused: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    def layout(self) -> Layout:
        return Layout(self.state_dir, Pki(self.state_dir / "pki"))

    def api(self) -> Rest:
        """A stdlib client with the admin certificate (use the kubeconfig for the kubernetes client)."""
        return Rest(self.server, self.layout().pki)

    def ports(self) -> dict[str, dict[str, int]]:
        return {name: p.ports for name, p in self.processes.items()}

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "definition": self.definition,
            "server": self.server,
            "nodes": self.nodes,
            "nodes_per_leaf": self.nodes_per_leaf,
            "process_nodes": self.process_nodes,
            "processes": {n: p.to_json() for n, p in self.processes.items()},
            "timings": self.timings,
        }

    @classmethod
    def from_json(cls, state_dir: Path, data: dict) -> SimCluster:
        procs = {n: _proc.Proc.from_json(p) for n, p in data.get("processes", {}).items()}
        return cls(
            state_dir,
            data["name"],
            data.get("definition", ""),
            data["server"],
            int(data.get("nodes", 0)),
            procs,
            nodes_per_leaf=int(data.get("nodes_per_leaf", _nodes.NODES_PER_GROUP)),
            process_nodes=int(data.get("process_nodes", 0)),
            timings=dict(data.get("timings", {})),
        )


@dataclass
class SimStatus:
    """What ``status`` found: per process (pid, alive, peak RSS in KiB) and nodes."""

    state_dir: Path
    cluster: SimCluster | None
    alive: dict[str, bool] = field(default_factory=dict)
    rss_kib: dict[str, int] = field(default_factory=dict)
    nodes: int = 0
    nodes_ready: int = 0
    api_ready: bool = False

    @property
    def running(self) -> bool:
        return self.cluster is not None and bool(self.alive) and all(self.alive.values()) and self.api_ready
