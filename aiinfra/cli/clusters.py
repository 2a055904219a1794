"""``aiinfra launch | status | submit | logs | down``: the notebook API from a shell."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from aiinfra.cli.arguments import dns_label, positive_seconds, worker_count
from aiinfra.launch.cluster import connect, launch
from aiinfra.launch.progress import ConsoleProgress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("launch", help="create a Ray cluster from a definition and wait until it is ready")
    p.add_argument("cluster", metavar="CLUSTER", help="cluster definition (clusters/local.yaml runs locally)")
    p.add_argument("--workers", type=worker_count, help="worker replicas, 1..10000")
    p.add_argument("--name", type=dns_label)
    p.add_argument("--namespace", type=dns_label)
    p.add_argument("--keep-within", metavar="LABEL", help="topology label all workers must share")
    p.add_argument("--timeout", type=positive_seconds, default=600.0)
    p.add_argument("--no-wait", action="store_true")
    p.set_defaults(func=run_launch)

    p = sub.add_parser("status", help="show a cluster's state and nodes")
    p.add_argument("name", type=dns_label)
    p.add_argument("--namespace", type=dns_label)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_status)

    p = sub.add_parser("submit", help="submit a Ray job (like `ray job submit`) and follow its logs")
    p.add_argument("name", type=dns_label)
    p.add_argument("--namespace", type=dns_label)
    p.add_argument("--working-dir", default=None)
    p.add_argument("--no-follow", action="store_true", help="print the job id and return")
    p.add_argument("entrypoint", nargs=argparse.REMAINDER, help="-- command to run")
    p.set_defaults(func=run_submit)

    p = sub.add_parser("logs", help="print a job's logs")
    p.add_argument("name", type=dns_label)
    p.add_argument("job_id")
    p.add_argument("--namespace", type=dns_label)
    p.add_argument("-f", "--follow", action="store_true")
    p.set_defaults(func=run_logs)

    p = sub.add_parser("down", help="delete a cluster and what aiinfra created for it")
    p.add_argument("name", type=dns_label)
    p.add_argument("--namespace", type=dns_label)
    p.set_defaults(func=run_down)


def run_launch(args: argparse.Namespace) -> int:
    cluster = launch(
        args.cluster, workers=args.workers, name=args.name, namespace=args.namespace, wait=not args.no_wait,
        timeout=args.timeout, keep_within=args.keep_within, progress=ConsoleProgress(),
    )
    done = "re-attached to the running cluster" if cluster.reattached else "launched"
    print(f"{cluster.name}: {done} ({cluster.definition.name})")
    return 0


def run_status(args: argparse.Namespace) -> int:
    status = connect(args.name, args.namespace).status()
    if args.json:
        print(json.dumps(asdict(status), indent=2))
        return 0
    print(f"{status.name} ({status.backend}): {status.state}, {status.workers_joined}/{status.workers_wanted} workers")
    for node in status.nodes:
        print(f"  {node.role:6} {node.name:40} {node.state:10} gpus={node.gpus:g} {node.detail}")
    for reason in status.reasons:
        print(f"  waiting: {reason}")
    return 0 if status.ready else 1


def run_submit(args: argparse.Namespace) -> int:
    entry = args.entrypoint[1:] if args.entrypoint[:1] == ["--"] else args.entrypoint
    if not entry:
        from aiinfra.errors import UsageError

        raise UsageError("give the command after --, e.g. aiinfra submit demo -- python train.py")
    job = connect(args.name, args.namespace).submit(" ".join(entry), working_dir=args.working_dir)
    print(f"job {job.id}")
    if args.no_follow:
        return 0
    for line in job.logs(follow=True):
        print(line)
    state = job.wait()
    print(f"job {job.id}: {state}")
    return 0 if state == "SUCCEEDED" else 1


def run_logs(args: argparse.Namespace) -> int:
    for line in connect(args.name, args.namespace).job(args.job_id).logs(follow=args.follow):
        print(line)
    return 0


def run_down(args: argparse.Namespace) -> int:
    connect(args.name, args.namespace).down()
    print(f"{args.name}: deleted")
    return 0
