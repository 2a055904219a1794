"""``aiinfra net render | apply | verify``: one netplan file per node, installed with rollback, then checked.

render: exit 0, or 2 on a bad definition/inventory. apply and verify: 0 when the
host network is as planned, 1 when a check fails or the change was rolled back,
2 on bad input. ``apply --dry-run`` shows the diff and changes nothing.

Example:
    $ aiinfra net render clusters/a800-ib.yaml --node gpu-01
    $ sudo aiinfra net apply clusters/a800-ib.yaml --dry-run
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from aiinfra.cli.arguments import output_dir, write_files
from aiinfra.errors import UsageError

if TYPE_CHECKING:
    from aiinfra.findings import Finding
    from aiinfra.net.plan import NodePlan


def register(net_sub: argparse._SubParsersAction) -> None:
    r = net_sub.add_parser("render", help="render each node's netplan file (and plan) from definition + inventory")
    r.add_argument("cluster", metavar="DEFINITION", help="cluster definition, e.g. clusters/a800-ib.yaml")
    r.add_argument("--inventory", metavar="FILE", help="node inventory (default: nodes/<name>.yaml)")
    r.add_argument("--node", metavar="NAME", help="only this node")
    r.add_argument("-o", "--out", metavar="DIR", type=output_dir,
                   help="write <node>.yaml and <node>.plan.json here instead of printing")
    r.set_defaults(func=run_render)
    for name, helptext in (("apply", "install this node's netplan file; roll back unless the gateway and a peer "
                                     "answer; then verify"),
                           ("verify", "check bond, rail ports and MTUs against the plan (changes nothing)")):
        a = net_sub.add_parser(name, help=helptext)
        a.add_argument("cluster", metavar="DEFINITION", nargs="?", help="cluster definition (or give --plan)")
        a.add_argument("--inventory", metavar="FILE", help="node inventory (default: nodes/<name>.yaml)")
        a.add_argument("--plan", metavar="FILE", help="a <node>.plan.json from `net render -o` (needs only PyYAML)")
        a.add_argument("--node", metavar="NAME", help="node name in the inventory (default: `hostname -s`)")
        a.add_argument("--root", metavar="DIR", default="/", help="prefix for /etc, /proc, /sys (default: /)")
        a.add_argument("--json", action="store_true", help="print the findings as JSON")
        if name == "apply":
            a.add_argument("--dry-run", action="store_true", help="show the diff, check it with netplan generate; "
                                                                 "change nothing")
            a.add_argument("--timeout", type=float, default=60.0, metavar="S",
                           help="seconds the gateway and a peer have to answer before the rollback (default 60)")
        a.set_defaults(func=run_apply if name == "apply" else run_verify)


def run_render(args: argparse.Namespace) -> int:
    from aiinfra.definition.loader import load_definition
    from aiinfra.net.inventory_loader import inventory_path, inventory_warnings, load_inventory
    from aiinfra.net.netplan import render_all, render_node

    d = load_definition(args.cluster)
    inv = load_inventory(args.inventory or inventory_path(args.cluster), d)
    for w in inventory_warnings(inv, d):
        print(f"warning: {w}", file=sys.stderr)
    plans = [render_node(d, inv, args.node)] if args.node else render_all(d, inv)
    if not args.out:
        for p in plans:
            print(p.netplan, end="")
        return 0
    for p in plans:
        written = write_files(args.out, {f"{p.node}.yaml": p.netplan, f"{p.node}.plan.json": p.to_json()}, "-o")
        print("  ".join(str(path) for path in written))
    return 0


def run_apply(args: argparse.Namespace) -> int:
    from aiinfra.net.host_apply import apply_plan
    from aiinfra.net.host_verify import connectx_members

    plan, root = _plan(args), _root(args)
    if root != Path("/") and not args.dry_run:
        raise UsageError("--root other than / works only with --dry-run (applying would change this machine)")
    for f in connectx_members(root, plan):
        _say(f"warning  {f.device}: {f.message}\n         -> {f.action}")
    # An SSH session cut by the change must not take the rollback with it.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    outcome = apply_plan(plan, root, dry_run=args.dry_run, timeout_s=args.timeout, log=_say)
    if args.dry_run:
        return 0
    if not outcome.changed:
        _say("verifying the running state")
    return _report(args, plan, root)


def run_verify(args: argparse.Namespace) -> int:
    return _report(args, _plan(args), _root(args))


def _report(args: argparse.Namespace, plan: NodePlan, root: Path) -> int:
    from aiinfra.findings import by_severity, failed
    from aiinfra.net.host_verify import verify_host

    findings: list[Finding] = by_severity(verify_host(root, plan))
    if args.json:
        print(json.dumps({"node": plan.node, "ok": not failed(findings), "findings": [f.to_dict() for f in findings]},
                         indent=2))
    else:
        for f in findings:
            _say(f"{f.severity:<8} {f.device}: {f.message}\n{'':<8} -> {f.action}")
        errors = sum(f.severity == "error" for f in findings)
        _say(f"{'FAILED' if errors else 'ok'}: {plan.node}: bond {plan.bond.name} and {len(plan.rails)} rails, "
             f"{errors} error(s)")
    return 1 if failed(findings) else 0


def _plan(args: argparse.Namespace) -> NodePlan:
    from aiinfra.net.plan import NodePlan

    if args.plan:
        try:
            plan = NodePlan.from_json(Path(args.plan).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep
            raise UsageError(f"--plan {args.plan}: {exc}") from None
        if args.node and args.node != plan.node:
            raise UsageError(f"--plan {args.plan} is for node {plan.node}, not {args.node}")
        return plan
    if not args.cluster:
        raise UsageError("give the cluster definition or --plan FILE")
    from aiinfra.definition.loader import load_definition
    from aiinfra.net.inventory_loader import inventory_path, load_inventory
    from aiinfra.net.netplan import render_node

    d = load_definition(args.cluster)
    inv = load_inventory(args.inventory or inventory_path(args.cluster), d)
    return render_node(d, inv, args.node or socket.gethostname().split(".")[0])


def _root(args: argparse.Namespace) -> Path:
    root = Path(args.root)
    if not root.is_dir():
        raise UsageError(f"--root {root}: not a directory")
    return root


def _say(text: str) -> None:
    try:
        print(text, flush=True)
    except OSError:  # the terminal went away with the old network; keep going
        pass
