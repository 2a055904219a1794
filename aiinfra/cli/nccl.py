"""``aiinfra nccl env`` and ``aiinfra nccl log``.

``env`` prints the NCCL environment for this node (``NAME=value`` lines, with
``--explain`` the reason after each, with ``--export`` as shell ``export`` lines for a
pod's start command); ``log`` reads an NCCL_DEBUG=INFO log and
reports the transports NCCL chose, exiting 1 on a socket fallback.

Example:
    $ aiinfra nccl log run.log
    NCCL 2.28.9+cuda13.0: 2 ranks, 1 node(s), network Socket
    ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aiinfra.cli.node import add_node_arguments, resolve
from aiinfra.errors import UsageError
from aiinfra.findings import failed
from aiinfra.nccl.log import NcclLogReport, parse_nccl_lines, read_lines
from aiinfra.nccl.node_env import node_env, shell_exports


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nccl", help="NCCL environment for this node, and NCCL log analysis")
    nccl_sub = p.add_subparsers(dest="nccl_command", metavar="SUBCOMMAND", required=True)
    env = nccl_sub.add_parser("env", help="print the NCCL environment derived from this node and the definition")
    add_node_arguments(env)
    env.add_argument("--explain", action="store_true", help="say why each value was chosen")
    env.add_argument("--json", action="store_true", help="print name, value and reason as JSON")
    env.add_argument(
        "--export", action="store_true", help="print shell 'export NAME=value' lines (a pod's start command evals them)"
    )
    env.set_defaults(func=run_env)
    log = nccl_sub.add_parser("log", help="report the transports an NCCL_DEBUG=INFO log shows; exit 1 on a fallback")
    log.add_argument("file", metavar="FILE")
    log.add_argument("--json", action="store_true", help="print the full report as JSON")
    log.set_defaults(func=run_log)


def run_env(args: argparse.Namespace) -> int:
    d, inv = resolve(args)
    settings = node_env(d, inv)
    if args.json:
        print(json.dumps([{"name": s.name, "value": s.value, "why": s.why} for s in settings], indent=2))
    elif args.export:
        print(shell_exports(d, settings))
    elif args.explain:
        for s in settings:
            print(f"{s.name}={s.value}\n    # {s.why}")
    else:
        for s in settings:
            print(f"{s.name}={s.value}")
    return 0


def run_log(args: argparse.Namespace) -> int:
    try:
        # Streamed: a multi-GB log is read a line at a time, never whole.
        with Path(args.file).open(encoding="utf-8", errors="replace", newline="") as stream:
            report = parse_nccl_lines(read_lines(stream))
    except OSError as exc:
        raise UsageError(f"{args.file}: {exc.strerror or exc}") from None
    if report.nccl_lines == 0:
        raise UsageError(f"{args.file}: no NCCL lines (was it run with NCCL_DEBUG=INFO?)")
    if args.json:
        print(json.dumps({"ok": not failed(report.findings), **report.to_dict()}, indent=2))
    else:
        print(render_log(report))
    return 1 if failed(report.findings) else 0


def render_log(r: NcclLogReport) -> str:
    """The terminal report of one log."""
    world = max(r.ranks, key=lambda k: k.nranks).comm if r.ranks else None
    ranks = [k for k in r.ranks if k.comm == world]
    hosts = sorted({k.host for k in ranks})
    nodes = r.nnodes if r.nnodes is not None else len(hosts)
    lines = [
        f"NCCL {r.version or '?'}: {len(ranks)} ranks, {nodes} node(s), network {'/'.join(r.networks) or '?'}"
        + (" (NET/IB: no device found)" if r.ib_no_device else "")
    ]
    for host, devs in sorted(r.net_devices.items()):
        lines.append(f"  {host}: NET/IB devices {' '.join(devs)}")
    for k in sorted(ranks, key=lambda k: k.rank):
        lines.append(f"  rank {k.rank:<3} {k.host:<16} cudaDev {k.cuda_dev}  busId {k.bus_id}")
    lines.append("transports (src -> dst: channels):")
    for (src, dst), kinds in r.pairs().items():
        shown = ", ".join(f"{kind} x{n}" for kind, n in sorted(kinds.items()))
        lines.append(f"  {src:>3} -> {dst:<3} {shown}")
    if not r.connections:
        lines.append("  (none in the log)")
    lines.append(
        f"channels: {r.channels if r.channels is not None else '?'}, rings {r.rings}, trees {r.trees}, "
        f"NVLS {r.nvls or 'unknown'}"
    )
    for f in r.findings:
        lines.append(f"{f.severity:<8} {f.device}: {f.message}")
        lines.append(f"{'':<8} -> {f.action}")
    errors = sum(f.severity == "error" for f in r.findings)
    lines.append("FAILED: socket fallback or other error above" if errors else "ok: no transport errors")
    return "\n".join(lines)
