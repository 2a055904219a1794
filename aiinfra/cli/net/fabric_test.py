"""``aiinfra net test``: the fabric acceptance test; names the slow node, rail or link in O(log N) rounds.

Exit codes: 0 nothing found, 1 findings, 2 bad input.

Registered in the ``net`` group by :mod:`aiinfra.cli.net` (every module of that package adds its subcommands).

Example:
    $ aiinfra net test --simulate 128 --scenario slow_rail --html out/fabric.html
    $ sudo aiinfra net test --netns --nodes 8 --rails 2 --json out/fabric.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aiinfra.errors import UsageError


def register(net_sub: argparse._SubParsersAction) -> None:
    """Add ``test`` to the ``net`` group's subparsers."""
    from aiinfra.net.fabric.simulate import SCENARIOS

    p = net_sub.add_parser("test", help="fabric test: find the slow node, rail or link by pairing nodes",
                           description="Measure node pairs per rail, re-pair suspects with known-good nodes, "
                           "and name the slow node, rail or link. Exit 0 pass, 1 findings, 2 bad input.")
    where = p.add_mutually_exclusive_group(required=True)
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


def run(args: argparse.Namespace) -> int:
    from aiinfra.net.fabric.localise import LocaliseConfig, localise
    from aiinfra.net.fabric.report import FabricReport

    if args.simulate is not None:
        from aiinfra.net.fabric.simulate import FLOOR, Fabric

        if args.simulate < 2 or (args.rails or 8) < 1:
            raise UsageError("--simulate needs 2 or more nodes and --rails 1 or more")
        fabric = Fabric.scenario(args.scenario, args.simulate, args.rails or 8, args.seed)
        config = LocaliseConfig(FLOOR * fabric.line, screen_rounds=_screen(args.screen, args.simulate), seed=args.seed)
        report = FabricReport.from_localisation(localise(fabric.nodes, fabric.rails, fabric.measure, config),
                                                fabric.line)
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
            report = FabricReport.from_localisation(loc, plane.line_gb_s * TCP_EFFICIENCY)
    print(report.table())
    for path, text in ((args.json, report.to_json()), (args.html, report.html()), (args.metrics, report.metrics())):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")
            print(f"# wrote {path}")
    return report.exit_code
