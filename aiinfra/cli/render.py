"""``aiinfra render CLUSTER``: print or write the RayCluster a definition makes."""

from __future__ import annotations

import argparse
from pathlib import Path

from aiinfra.definition.loader import load_definition
from aiinfra.k8s.raycluster import LaunchOptions, raycluster, to_yaml


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="print (or write to -o DIR) the RayCluster for a definition")
    p.add_argument("cluster", metavar="CLUSTER", help="cluster definition file")
    p.add_argument("--name", help="RayCluster name (default: the definition's name)")
    p.add_argument("--workers", type=int, help="worker replicas (default: ray.workers.replicas)")
    p.add_argument("--namespace")
    p.add_argument("--keep-within", metavar="LABEL", help="topology label all workers must share")
    p.add_argument("-o", "--output", metavar="DIR", help="write DIR/raycluster-NAME.yaml instead of printing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    d = load_definition(args.cluster)
    opts = LaunchOptions(
        name=args.name or d.name, workers=args.workers, namespace=args.namespace, keep_within=args.keep_within
    )
    text = to_yaml(raycluster(d, opts))
    if args.output:
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"raycluster-{opts.name}.yaml"
        path.write_text(text, encoding="utf-8")
        print(path)
    else:
        print(text, end="")
    return 0
