"""``aiinfra net test``: the fabric acceptance test; names the slow node, rail or link in O(log N) rounds.

Exit codes: 0 nothing found, 1 findings, 2 bad input.

Registered in the ``net`` group by :mod:`aiinfra.cli.net` (every module of that package adds its subcommands).

Levels: 1 control plane and 2 node checks need ``--cluster`` (the definition; the kubeconfig's cluster is
tested); 2 runs as Ray tasks instead with ``--ray ADDRESS``; 3 data plane needs ``--simulate``, ``--netns`` or
``--ray`` (``--simulate`` with ``--cluster`` simulates the cluster's own GPU nodes and rails; ``--ray`` measures
the Ray cluster's GPU nodes, :mod:`aiinfra.net.fabric.ray_plane`). ``--levels`` picks among
those given. ``--label``/``--taint`` mark the nodes that levels 1, 2 and 3 found bad (:mod:`aiinfra.net.fabric.marks`).

Example:
    $ aiinfra net test --simulate 128 --scenario slow_rail --html out/fabric.html
    $ sudo aiinfra net test --netns --nodes 8 --rails 2 --json out/fabric.json
    $ aiinfra net test --cluster clusters/a800-ib.yaml --levels 1,2 --taint --html out/fabric.html
    $ aiinfra net test --cluster clusters/a800-ib.yaml --ray auto --levels 2 --label
    $ aiinfra net test --ray auto --levels 3 --line-gbps 100
    $ aiinfra net test --cluster clusters/a800-ib.yaml --ray auto --levels 3 --nccl --html out/fabric.html
"""

from __future__ import annotations

import argparse

from aiinfra.cli.arguments import dns_label, output_file, write_file


def register(net_sub: argparse._SubParsersAction) -> None:
    """Add ``test`` to the ``net`` group's subparsers."""
    p = net_sub.add_parser(
        "test",
        help="fabric test: find the slow node, rail or link by pairing nodes",
        description="Measure node pairs per rail, re-pair suspects with known-good nodes, "
        "and name the slow node, rail or link. Exit 0 pass, 1 findings, 2 bad input.",
    )
    _add_target_options(p)
    _add_marking_options(p)
    _add_data_plane_options(p)
    p.add_argument("--json", metavar="FILE", type=output_file, help="write the report as JSON")
    p.add_argument("--html", metavar="FILE", type=output_file, help="write a self-contained HTML report")
    p.add_argument("--metrics", metavar="FILE", type=output_file,
                   help="write findings as a Prometheus textfile (*.prom)")
    p.set_defaults(func=run)


def _add_target_options(p: argparse.ArgumentParser) -> None:
    """What is tested: the definition's cluster (levels 1-2), a Ray cluster (levels 2-3), which levels."""
    p.add_argument(
        "--cluster",
        metavar="FILE",
        help="cluster definition: run levels 1-2 against the kubeconfig's cluster (KUBECONFIG)",
    )
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run level 2 as Ray tasks, one pinned to each Ray GPU node of "
        "the cluster at ADDRESS ('auto': the one this machine is in) instead of Jobs, and level 3 "
        "(unless --simulate/--netns) between actors on those nodes",
    )
    p.add_argument(
        "--line-gbps",
        type=float,
        metavar="RATE",
        help="--ray level 3 (gloo, TCP): the rate per rail in "
        "Gb/s whose 90%% is the floor; without it --ray runs no level 3 unless --levels asks (exit 2); "
        "with --nccl it overrides the definition's rail rate",
    )
    p.add_argument(
        "--nccl",
        action="store_true",
        help="--ray level 3 through NCCL on the GPUs: one process per rail per node with NCCL_IB_HCA pinned to "
        "the rail's HCA, NCCL's transport read from its log (Socket fallback, GDRDMA), then NVLink inside each "
        "node; needs --cluster (the rails)",
    )
    p.add_argument("--levels", help="levels to run, e.g. 1,2 (default: all that the arguments allow)")
    p.add_argument("--namespace", type=dns_label,
                   help="namespace of the node-check Jobs (default: the definition's ray.namespace)")
    p.add_argument("--node-timeout", type=float, default=300.0, help="seconds to wait for the node checks")


def _add_marking_options(p: argparse.ArgumentParser) -> None:
    """Marking the nodes found bad (and clearing the nodes found good)."""
    from aiinfra.contract import FABRIC_FAILED_KEY

    p.add_argument(
        "--label",
        action="store_true",
        help=f"label nodes found bad {FABRIC_FAILED_KEY}=<codes> (launch() then avoids them); nodes found good lose it",
    )
    p.add_argument(
        "--taint",
        action="store_true",
        help=f"taint nodes found bad {FABRIC_FAILED_KEY}=<codes>:NoSchedule; nodes found good lose it",
    )


def _add_data_plane_options(p: argparse.ArgumentParser) -> None:
    """Level 3 without a Ray cluster: a simulated fabric or namespaces on this machine, and the screening."""
    from aiinfra.net.fabric.simulate import SCENARIOS

    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--simulate",
        type=int,
        metavar="NODES",
        nargs="?",
        const=0,
        help="a simulated fabric of NODES nodes (seeded); with --cluster, of the cluster's GPU nodes "
        "and rails, whose findings --label/--taint then mark",
    )
    where.add_argument(
        "--netns", action="store_true", help="a real data plane here: namespaces, one bridge per rail, tc, gloo (root)"
    )
    p.add_argument("--rails", type=int, default=None, help="rails per node (simulate: 8, netns: 2)")
    p.add_argument("--nodes", type=int, default=8, help="namespaces for --netns (default 8)")
    p.add_argument("--scenario", choices=SCENARIOS, default="none", help="faults to inject (--simulate)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--screen", default="2", help="screening rounds, or 'all' to measure every pair (default 2)")


def run(args: argparse.Namespace) -> int:
    from aiinfra.net.fabric.levels import FabricTestArgs, run_fabric_test

    wanted = {name: getattr(args, name) for name in FabricTestArgs.__dataclass_fields__}
    result = run_fabric_test(FabricTestArgs(**wanted))
    for note in result.notes:
        print(f"# {note}")
    report = result.report
    print(report.table())
    for option, path, text in (("--json", args.json, report.to_json()), ("--html", args.html, report.html()),
                               ("--metrics", args.metrics, report.metrics())):
        if path:
            print(f"# wrote {write_file(path, text, option)}")
    return report.exit_code
