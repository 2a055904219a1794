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
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiinfra.definition.loader import load_definition
from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import AiinfraError, UsageError
from aiinfra.local_ports import free_port
from aiinfra.netns.pods import PodNet, sim_id
from aiinfra.sim import nodes as _nodes
from aiinfra.sim import processes as _proc
from aiinfra.sim.cluster import SimCluster, SimStatus
from aiinfra.sim.components import HOST, ORDER, PORTS, Layout, argv, env, healthy
from aiinfra.sim.crds import crd_documents, install_crds
from aiinfra.sim.node_tree import write_node_tree
from aiinfra.sim.pki import ensure_pki, write_kubeconfig
from aiinfra.sim.rest import Rest
from aiinfra.sim.state import StateLock, clear_state, default_state_dir, load_state, prepare_fresh, save_state
from aiinfra.sim.tools import TOOLS, crd_files, kwok_stages, missing_tools, tools_dir

AGENT = "node-agent"
__all__ = ["SimCluster", "SimStatus", "default_state_dir", "down", "status", "up"]


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
    process_nodes: int = 0,
) -> SimCluster:
    """Start (or reuse) the simulated cluster and make sure ``nodes`` fake GPU nodes are Ready.

    ``process_nodes`` more nodes (indices after the KWOK ones) are process-backed: the node agent
    (aiinfra.sim.agent) really runs their pods, each in its own network, mount and PID namespaces
    (needs root and iproute2/util-linux).

    Nodes are spread over the definition's topology labels: ``nodes_per_leaf`` consecutive nodes share
    the innermost label (leaf), and each outer level (spine) groups that many of the level below. A
    reused cluster keeps the grouping it was started with.
    """
    d = _definition(definition)
    if nodes < 0:
        raise UsageError(f"--nodes must be 0 or more, not {nodes}")
    if process_nodes < 0:
        raise UsageError(f"--process-nodes must be 0 or more, not {process_nodes}")
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
            total = nodes + process_nodes
            missing = [i for i in range(total) if _nodes.node_name(d, i) not in have]
            process = frozenset(range(nodes, total))
            for i in process:
                write_process_node_tree(state, d, i)
            if process_nodes or cluster.process_nodes:
                _ensure_agent(cluster)
                save_state(state, cluster.to_json())
            _nodes.register_nodes(api, d, missing, cluster.nodes_per_leaf, process=process)
            cluster.nodes = max(cluster.nodes, total, len(have))
            cluster.process_nodes = max(cluster.process_nodes, process_nodes)
            _nodes.wait_ready(api, d.name, cluster.nodes, timeout)
        finally:
            api.close()
        cluster.timings["nodes_s"] = round(time.monotonic() - t0, 2)
        save_state(state, cluster.to_json())
        return cluster


def write_process_node_tree(state_dir: Path, d: ClusterDefinition, index: int) -> Path:
    """The sysfs/procfs tree of process node ``index`` at ``<state>/nodes/<node>/`` (written once), which the
    node agent presents as the node's /sys and /proc (hostPath volumes, and the pods' own /sys).

    Example:
        >>> import tempfile
        >>> from aiinfra.definition import load_definition
        >>> root = write_process_node_tree(Path(tempfile.mkdtemp()), load_definition("clusters/roce.yaml"), 0)
        >>> root.name, sorted(p.name for p in (root / "sys/class/infiniband").iterdir())
        ('roce-node-0000', ['mlx5_0', 'mlx5_1', 'mlx5_2', 'mlx5_3'])
    """
    root = Path(state_dir) / "nodes" / _nodes.node_name(d, index)
    if root.is_dir():
        return root
    tmp = root.with_name(f".{root.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    write_node_tree(d, index, tmp)
    os.replace(tmp, root)
    return root


def _ensure_agent(cluster: SimCluster) -> None:
    """Start the node agent of process-backed nodes unless it runs (it finds its nodes by label)."""
    proc = cluster.processes.get(AGENT)
    if proc is not None and proc.alive():
        return
    if os.geteuid() != 0:
        raise UsageError("process-backed nodes need root (network, mount and PID namespaces per pod)")
    lay = cluster.layout()
    argv = [
        os.path.realpath(sys.executable), "-m", "aiinfra.sim.agent", f"--state-dir={cluster.state_dir}",
        f"--server={cluster.server}", f"--kubelet-port={cluster.processes['kwok'].ports['server']}",
    ]  # fmt: skip
    cluster.processes[AGENT] = _proc.start(AGENT, argv, lay.logs, {"PYTHONPATH": _agent_pythonpath()})


def _agent_pythonpath() -> str:
    """The agent, and the pods it runs, import this very aiinfra (a checkout may shadow the installed one)."""
    here = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)


def _reuse(cluster: SimCluster, d: ClusterDefinition) -> SimCluster:
    # A dead node agent is simply started again (its pods' namespaces were swept when it stopped).
    dead = [n for n, p in cluster.processes.items() if not p.alive() and n != AGENT]
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
        raise UsageError(
            f"simulated cluster tools not built in {tools_dir()}: {', '.join(missing)}; in a source checkout run "
            f"'make k8s-tools' (tests/k8s/build.sh); otherwise build them with that script of the aiinfra "
            f"repository into {tools_dir()}, or set AIINFRA_K8S_TOOLS to where they are"
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
                api = Rest(server, lay.pki, timeout=120)  # big CRDs on a loaded machine take longer than 30 s
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
        for name in [AGENT, *reversed(ORDER)]:  # the agent first: it stops its pods while the API answers
            if name not in cluster.processes:
                continue
            proc = cluster.processes[name]
            if proc.alive():
                stopped.append(name)
            _proc.stop(proc, grace=40 if name == AGENT else 10)
        if AGENT in cluster.processes:
            PodNet(sim_id(state)).sweep()
        ports = {f"{n}/{w}": p for n, proc in cluster.processes.items() for w, p in proc.ports.items()}
        busy = _proc.wait_ports_released(ports)
        clear_state(state)
        if busy:
            raise AiinfraError(f"stopped the simulated cluster but ports {busy} on {HOST} are still bound")
        return stopped
