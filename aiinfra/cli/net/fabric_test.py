"""``aiinfra net test``: the fabric acceptance test; names the slow node, rail or link in O(log N) rounds.

Exit codes: 0 nothing found, 1 findings, 2 bad input.

Registered in the ``net`` group by :mod:`aiinfra.cli.net` (every module of that package adds its subcommands).

Levels: 1 control plane and 2 node checks need ``--cluster`` (the definition; the kubeconfig's cluster is
tested), 3 data plane needs ``--simulate`` or ``--netns``. ``--levels`` picks among those given.

Example:
    $ aiinfra net test --simulate 128 --scenario slow_rail --html out/fabric.html
    $ sudo aiinfra net test --netns --nodes 8 --rails 2 --json out/fabric.json
    $ aiinfra net test --cluster clusters/a800-ib.yaml --levels 1,2 --taint --html out/fabric.html
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from aiinfra.errors import UsageError

if TYPE_CHECKING:
    from aiinfra.findings import Finding
    from aiinfra.net.fabric.report import FabricReport


def register(net_sub: argparse._SubParsersAction) -> None:
    """Add ``test`` to the ``net`` group's subparsers."""
    from aiinfra.contract import FABRIC_FAILED_KEY
    from aiinfra.net.fabric.simulate import SCENARIOS

    p = net_sub.add_parser("test", help="fabric test: find the slow node, rail or link by pairing nodes",
                           description="Measure node pairs per rail, re-pair suspects with known-good nodes, "
                           "and name the slow node, rail or link. Exit 0 pass, 1 findings, 2 bad input.")
    p.add_argument("--cluster", metavar="FILE", help="cluster definition: run levels 1-2 against the kubeconfig's "
                   "cluster (KUBECONFIG)")
    p.add_argument("--levels", default="1,2,3", help="levels to run, e.g. 1,2 (default: all that the arguments allow)")
    p.add_argument("--namespace", help="namespace of the node-check Jobs (default: the definition's ray.namespace)")
    p.add_argument("--node-timeout", type=float, default=300.0, help="seconds to wait for the node checks")
    p.add_argument("--label", action="store_true", help=f"label nodes found bad {FABRIC_FAILED_KEY}=<codes> "
                   "(launch() then avoids them); nodes found good lose it")
    p.add_argument("--taint", action="store_true", help=f"taint nodes found bad {FABRIC_FAILED_KEY}=<codes>:NoSchedule;"
                   " nodes found good lose it")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--simulate", type=int, metavar="NODES", help="a simulated fabric of NODES nodes (seeded)")
    where.add_argument("--netns", action="store_true",
                       help="a real data plane here: namespaces, one bridge per rail, tc, gloo (root)")
    p.add_argument("--rails", type=int, default=None, help="rails per node (simulate: 8, netns: 2)")
    p.add_argument("--nodes", type=int, default=8, help="namespaces for --netns (default 8)")
    p.add_argument("--scenario", choices=SCENARIOS, default="none", help="faults to inject (--simulate)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--screen", default="2", help="screening rounds, or 'all' to measure every pair (default 2)")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    p.add_argument("--metrics", metavar="FILE", help="write findings as a Prometheus textfile (*.prom)")
    p.set_defaults(func=run)


def _screen(value: str, nodes: int) -> int:
    if value == "all":
        return nodes - 1
    if not value.isdigit() or int(value) < 1:
        raise UsageError(f"--screen {value!r}: a positive number of rounds, or 'all'")
    return int(value)


def _levels(value: str) -> set[int]:
    levels = {int(v) for v in value.split(",") if v.strip().isdigit()}
    if not levels or not levels <= {1, 2, 3} or len(levels) != len([v for v in value.split(",") if v.strip()]):
        raise UsageError(f"--levels {value!r}: a comma-separated subset of 1,2,3")
    return levels


def run(args: argparse.Namespace) -> int:
    from aiinfra.net.fabric.report import FabricReport

    levels = _levels(args.levels)
    data_plane = 3 in levels and (args.simulate is not None or args.netns)
    if not args.cluster and not data_plane:
        raise UsageError("nothing to test: give --cluster FILE (levels 1-2) and/or --simulate N / --netns (level 3)")
    if (args.label or args.taint) and not args.cluster:
        raise UsageError("--label/--taint mark Kubernetes nodes: give --cluster FILE")
    found = _cluster_levels(args, levels) if args.cluster else {}
    if data_plane:
        report = _data_plane(args, found)
    else:
        report = FabricReport([f for fs in found.values() for f in fs], found)
    print(report.table())
    for path, text in ((args.json, report.to_json()), (args.html, report.html()), (args.metrics, report.metrics())):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")
            print(f"# wrote {path}")
    return report.exit_code


def _cluster_levels(args: argparse.Namespace, levels: set[int]) -> dict[str, list[Finding]]:
    """Levels 1-2 against the kubeconfig's cluster; marks nodes when asked."""
    from aiinfra.definition import load_definition
    from aiinfra.k8s.client import Kube
    from aiinfra.net.fabric.control_plane import NODE_CODES, control_plane_findings
    from aiinfra.net.fabric.control_plane_read import read_control_plane
    from aiinfra.net.fabric.node_level import mark_nodes, run_node_checks

    d = load_definition(args.cluster)
    kube = Kube()
    found: dict[str, list[Finding]] = {}
    bad: dict[str, list[str]] = {}
    checked: set[str] = set()
    if 1 in levels:
        snap = read_control_plane(kube, d)
        found["control plane"] = control_plane_findings(d, snap)
        checked |= set(snap.nodes)
        for f in found["control plane"]:
            if f.code in NODE_CODES:
                bad.setdefault(f.device.split(":")[0], []).append(f.code)
    if 2 in levels:
        namespace = args.namespace or (d.ray.namespace if d.ray else "default")
        node = run_node_checks(kube, d, namespace, timeout=args.node_timeout)
        found["node"] = node.all_findings()
        checked |= set(node.findings)
        for name, fs in node.findings.items():
            codes = [f.code for f in fs if f.severity == "error"]
            if codes:
                bad.setdefault(name, []).extend(codes)
    if args.label or args.taint:
        for line in mark_nodes(kube, bad, sorted(checked - set(bad)), args.label, args.taint):
            print(f"# {line}")
    return found


def _data_plane(args: argparse.Namespace, found: dict[str, list[Finding]]) -> FabricReport:
    """Level 3: the simulated (--simulate) or namespace (--netns) data plane, after the other levels' findings."""
    from aiinfra.net.fabric.localise import LocaliseConfig, localise
    from aiinfra.net.fabric.report import FabricReport

    if args.simulate is not None:
        from aiinfra.net.fabric.simulate import FLOOR, Fabric

        if args.simulate < 2 or (args.rails or 8) < 1:
            raise UsageError("--simulate needs 2 or more nodes and --rails 1 or more")
        fabric = Fabric.scenario(args.scenario, args.simulate, args.rails or 8, args.seed)
        config = LocaliseConfig(FLOOR * fabric.line, screen_rounds=_screen(args.screen, args.simulate), seed=args.seed)
        return FabricReport.from_localisation(localise(fabric.nodes, fabric.rails, fabric.measure, config),
                                              fabric.line, found)
    else:
        from aiinfra.net.fabric.netns_plane import TCP_EFFICIENCY, NetnsDataPlane
        from aiinfra.netns import fabric as netns

        why = netns.available()
        if why:
            raise UsageError(f"--netns: {why}")
        if args.nodes < 2:
            raise UsageError("--nodes must be 2 or more")
        with NetnsDataPlane.start(args.nodes, args.rails or 2) as plane:
            config = LocaliseConfig(plane.floor, screen_rounds=_screen(args.screen, args.nodes), seed=args.seed)
            loc = localise(plane.names, plane.rails, plane.measure, config)
            return FabricReport.from_localisation(loc, plane.line_gb_s * TCP_EFFICIENCY, found)
