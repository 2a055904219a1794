"""``aiinfra sim up|status|down``: the simulated GPU cluster (real control plane, KWOK nodes).

Example:
    $ aiinfra sim up clusters/a800-ib.yaml --nodes 4
    simulated cluster a800-ib: 4 nodes Ready (started in 9.1s)
    export KUBECONFIG=/root/.local/state/aiinfra/sim/kubeconfig
"""

from __future__ import annotations

import argparse

from aiinfra.cli.arguments import node_count, positive_seconds


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="a simulated GPU cluster: real kube-apiserver, scheduler, KubeRay; KWOK nodes")
    cmds = p.add_subparsers(dest="sim_command", metavar="SUBCOMMAND", required=True)

    def state_arg(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--state-dir",
            default=None,
            help="folder with its state and logs (default $AIINFRA_SIM_STATE or ~/.local/state/aiinfra/sim)",
        )

    up = cmds.add_parser("up", help="start the simulated cluster (or reuse the running one) and add nodes")
    up.add_argument("cluster", metavar="CLUSTER", help="cluster definition file, e.g. clusters/a800-ib.yaml")
    up.add_argument("--nodes", type=node_count, default=4, help="fake GPU nodes to register (default 4)")
    up.add_argument(
        "--process-nodes",
        type=int,
        default=0,
        help="more nodes whose pods really run (local Python and Ray, one network/mount/PID namespace per pod; root)",
    )
    up.add_argument(
        "--nodes-per-leaf",
        type=node_count,
        default=2,
        help="nodes sharing a leaf label (and leaves per spine); default 2",
    )
    up.add_argument("--timeout", type=positive_seconds, default=180.0, help="seconds to wait for each component")
    state_arg(up)
    up.set_defaults(func=run_up)

    st = cmds.add_parser("status", help="show processes, memory and nodes of the simulated cluster")
    state_arg(st)
    st.set_defaults(func=run_status)

    dn = cmds.add_parser("down", help="stop every process of the simulated cluster")
    state_arg(dn)
    dn.set_defaults(func=run_down)


def run_up(args: argparse.Namespace) -> int:
    from aiinfra import sim

    cluster = sim.up(
        args.cluster,
        nodes=args.nodes,
        state_dir=args.state_dir,
        timeout=args.timeout,
        nodes_per_leaf=args.nodes_per_leaf,
        process_nodes=args.process_nodes,
    )
    how = "reused" if cluster.reused else f"started in {cluster.timings.get('control_plane_s', 0):.1f}s"
    print(f"simulated cluster {cluster.name}: {cluster.nodes} nodes Ready ({how})")
    print(f"export KUBECONFIG={cluster.kubeconfig}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from aiinfra import sim

    st = sim.status(args.state_dir)
    if st.cluster is None:
        print(f"no simulated cluster in {st.state_dir}")
        return 1
    state = "running" if st.running else "NOT running (run 'aiinfra sim down' to clean up)"
    print(f"simulated cluster {st.cluster.name}: {state}; api {st.cluster.server}")
    print(f"nodes: {st.nodes_ready}/{st.nodes} Ready; kubeconfig {st.cluster.kubeconfig}")
    for name, proc in st.cluster.processes.items():
        alive = "up" if st.alive.get(name) else "DOWN"
        ports = " ".join(f"{k}={v}" for k, v in proc.ports.items())
        print(f"  {name:<24} {alive:<4} pid {proc.pid:<8} peak {st.rss_kib.get(name, 0) / 1024:7.1f} MiB  {ports}")
    return 0 if st.running else 1


def run_down(args: argparse.Namespace) -> int:
    from aiinfra import sim

    stopped = sim.down(args.state_dir)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0
