"""A simulated GPU/InfiniBand Kubernetes cluster built from real components.

``up`` starts etcd, kube-apiserver (127.0.0.1 only, generated PKI, RBAC),
kube-controller-manager, kube-scheduler, kwok and the KubeRay operator as
supervised processes under a state folder, installs the operators' CRDs and
registers fake GPU nodes shaped by a cluster definition. The processes outlive
the caller; a second ``up`` on the same folder reuses them, ``down`` stops them.

Example:
    >>> import aiinfra.sim as sim
    >>> c = sim.up("clusters/a800-ib.yaml", nodes=4, state_dir="/tmp/sim")   # doctest: +SKIP
    >>> c.kubeconfig                                                        # doctest: +SKIP
    PosixPath('/tmp/sim/kubeconfig')
    >>> sim.down("/tmp/sim")                                                # doctest: +SKIP
"""

from __future__ import annotations

import functools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aiinfra.definition.loader import load_definition
from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import AiinfraError, UsageError
from aiinfra.local_ports import free_port
from aiinfra.sim import nodes as _nodes
from aiinfra.sim import processes as _proc
from aiinfra.sim.components import HOST, ORDER, PORTS, Layout, argv, env, healthy
from aiinfra.sim.crds import crd_documents, install_crds
from aiinfra.sim.pki import Pki, ensure_pki, write_kubeconfig
from aiinfra.sim.rest import Rest
from aiinfra.sim.state import StateLock, clear_state, default_state_dir, load_state, prepare_fresh, save_state
from aiinfra.sim.tools import TOOLS, crd_files, kwok_stages, missing_tools, tools_dir

__all__ = ["SimCluster", "SimStatus", "default_state_dir", "down", "status", "up"]


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


def _definition(definition: ClusterDefinition | str | Path) -> ClusterDefinition:
    d = definition if isinstance(definition, ClusterDefinition) else load_definition(definition)
    if d.backend != "kubernetes" or d.gpu is None:
        raise UsageError(f"{d.source or d.name}: the simulator needs a kubernetes definition with a 'gpu' section")
    return d


def up(
    definition: ClusterDefinition | str | Path,
    nodes: int = 4,
    state_dir: str | Path | None = None,
    timeout: float = 180.0,
    nodes_per_leaf: int = _nodes.NODES_PER_GROUP,
) -> SimCluster:
    """Start (or reuse) the simulated cluster and make sure ``nodes`` fake GPU nodes are Ready.

    Nodes are spread over the definition's topology labels: ``nodes_per_leaf`` consecutive nodes share
    the innermost label (leaf), and each outer level (spine) groups that many of the level below. A
    reused cluster keeps the grouping it was started with.
    """
    d = _definition(definition)
    if nodes < 0:
        raise UsageError(f"--nodes must be 0 or more, not {nodes}")
    if nodes_per_leaf < 1:
        raise UsageError(f"--nodes-per-leaf must be 1 or more, not {nodes_per_leaf}")
    state = Path(state_dir) if state_dir else default_state_dir()
    with StateLock(state):
        existing = load_state(state)
        if existing is not None:
            cluster = _reuse(SimCluster.from_json(state, existing), d)
        else:
            cluster = _start(state, d, timeout)
            cluster.nodes_per_leaf = nodes_per_leaf
        t0 = time.monotonic()
        api = cluster.api()
        try:
            have = {
                n["metadata"]["name"]
                for n in _nodes.list_sim_nodes(api)
                if n["metadata"].get("labels", {}).get(_nodes.SIM_LABEL) == d.name
            }
            missing = [i for i in range(nodes) if _nodes.node_name(d, i) not in have]
            _nodes.register_nodes(api, d, missing, cluster.nodes_per_leaf)
            cluster.nodes = max(cluster.nodes, nodes, len(have))
            _nodes.wait_ready(api, d.name, cluster.nodes, timeout)
        finally:
            api.close()
        cluster.timings["nodes_s"] = round(time.monotonic() - t0, 2)
        save_state(state, cluster.to_json())
        return cluster


def _reuse(cluster: SimCluster, d: ClusterDefinition) -> SimCluster:
    dead = [n for n, p in cluster.processes.items() if not p.alive()]
    where = cluster.state_dir
    if dead and len(dead) == len(cluster.processes):
        raise AiinfraError(
            f"stale state folder {where}: cluster '{cluster.name}' was recorded there but none of its "
            f"processes runs any more; run 'aiinfra sim down --state-dir {where}' to clear it"
        )
    if dead:
        raise AiinfraError(
            f"the simulated cluster in {where} is only partly running ({', '.join(dead)} exited; see "
            f"{where}/logs); run 'aiinfra sim down --state-dir {where}' and 'up' again"
        )
    if cluster.name != d.name:
        raise AiinfraError(
            f"{where} already runs simulated cluster '{cluster.name}', not '{d.name}'; run "
            f"'aiinfra sim down' first or pass another --state-dir"
        )
    api = cluster.api()
    try:
        if not api.ready():
            raise AiinfraError(
                f"the kube-apiserver of the simulated cluster in {where} does not answer /readyz; "
                f"see {where}/logs/kube-apiserver.log"
            )
    finally:
        api.close()
    cluster.reused = True
    return cluster


def _start(state: Path, d: ClusterDefinition, timeout: float) -> SimCluster:
    missing = missing_tools(TOOLS)
    if missing:
        raise AiinfraError(
            f"simulated cluster tools not built in {tools_dir()}: {', '.join(missing)}; "
            f"run 'make k8s-tools' (tests/k8s/build.sh) first"
        )
    prepare_fresh(state)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    lay = Layout(state, ensure_pki(state / "pki"))
    parsing = ThreadPoolExecutor(max_workers=1)  # parse the CRD YAML while etcd and the apiserver start
    crd_docs = parsing.submit(crd_documents, crd_files())
    parsing.shutdown(wait=False)
    lay.kwok_config.write_text(kwok_stages(), encoding="utf-8")
    timings["prepare_s"] = round(time.monotonic() - t0, 2)
    taken: set[int] = set()
    ports: dict[str, dict[str, int]] = {}
    for name in ORDER:
        ports[name] = {}
        for what in PORTS[name]:
            ports[name][what] = free_port(_proc.HOST, taken)
            taken.add(ports[name][what])
    server = f"https://{HOST}:{ports['kube-apiserver']['https']}"
    write_kubeconfig(lay.kubeconfig, lay.pki, server, cluster=f"sim-{d.name}")
    cluster = SimCluster(state, d.name, d.source, server, 0, {}, timings=timings)
    try:
        for name in ORDER:
            t1 = time.monotonic()
            proc = _proc.start(name, argv(name, lay, ports), lay.logs, env(name, lay), ports[name])
            cluster.processes[name] = proc
            save_state(state, cluster.to_json())  # so that 'down' can stop it even if this start fails
            if name == "kube-apiserver":
                api = Rest(server, lay.pki)
                try:
                    _proc.wait_until(proc, api.ready, timeout, "ready (/readyz)")
                    install_crds(api, crd_docs.result(), timeout)
                finally:
                    api.close()
            else:
                _proc.wait_until(proc, functools.partial(healthy, name, ports), timeout)
            timings[f"{name}_s"] = round(time.monotonic() - t1, 2)
    except BaseException:
        for proc in reversed(list(cluster.processes.values())):
            try:
                _proc.stop(proc, grace=5)
            except AiinfraError:
                pass
        clear_state(state)
        raise
    timings["control_plane_s"] = round(time.monotonic() - t0, 2)
    return cluster


def status(state_dir: str | Path | None = None) -> SimStatus:
    """Look at the cluster recorded in the state folder (no cluster: ``cluster`` is None)."""
    state = Path(state_dir) if state_dir else default_state_dir()
    data = load_state(state)
    if data is None:
        return SimStatus(state, None)
    cluster = SimCluster.from_json(state, data)
    st = SimStatus(state, cluster)
    for name, proc in cluster.processes.items():
        st.alive[name] = proc.alive()
        st.rss_kib[name] = _proc.rss_kib(proc.pid) if st.alive[name] else 0
    if st.alive.get("kube-apiserver"):
        api = cluster.api()
        try:
            st.api_ready = api.ready()
            if st.api_ready:
                sim_nodes = _nodes.list_sim_nodes(api)
                st.nodes, st.nodes_ready = len(sim_nodes), _nodes.ready_count(sim_nodes)
        finally:
            api.close()
    return st


def down(state_dir: str | Path | None = None) -> list[str]:
    """Stop every process of the cluster in the state folder; returns the names stopped."""
    state = Path(state_dir) if state_dir else default_state_dir()
    with StateLock(state):
        data = load_state(state)
        if data is None:
            return []
        cluster = SimCluster.from_json(state, data)
        stopped = []
        for name in reversed([n for n in ORDER if n in cluster.processes]):
            proc = cluster.processes[name]
            if proc.alive():
                stopped.append(name)
            _proc.stop(proc)
        ports = {f"{n}/{w}": p for n, proc in cluster.processes.items() for w, p in proc.ports.items()}
        busy = _proc.wait_ports_released(ports)
        clear_state(state)
        if busy:
            raise AiinfraError(f"stopped the simulated cluster but ports {busy} on {HOST} are still bound")
        return stopped
