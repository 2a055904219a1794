"""``aiinfra render CLUSTER``: print or write the RayCluster and the NetworkPolicies a definition makes.

Printed as one YAML stream (``---`` between objects), in the order ``launch()`` creates them;
``-o DIR`` writes ``raycluster-NAME.yaml`` and ``networkpolicy-NAME.yaml``. The Ray token
Secret is not rendered: its value is made at launch and is never printed.
"""

from __future__ import annotations

import argparse

from aiinfra.cli.arguments import dns_label, output_dir, worker_count, write_files
from aiinfra.definition.loader import load_definition
from aiinfra.k8s.network_policy import network_policies
from aiinfra.k8s.raycluster import LaunchOptions, raycluster, to_yaml


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="print (or write to -o DIR) the RayCluster and NetworkPolicies for a definition")
    p.add_argument("cluster", metavar="CLUSTER", help="cluster definition file")
    p.add_argument("--name", type=dns_label, help="RayCluster name (default: the definition's name)")
    p.add_argument("--workers", type=worker_count, help="worker replicas, 1..10000 (default: ray.workers.replicas)")
    p.add_argument("--namespace", type=dns_label)
    p.add_argument("--keep-within", metavar="LABEL", help="topology label all workers must share")
    p.add_argument("-o", "--output", metavar="DIR", type=output_dir,
                   help="write DIR/raycluster-NAME.yaml and DIR/networkpolicy-NAME.yaml instead of printing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    d = load_definition(args.cluster)
    opts = LaunchOptions(
        name=args.name or d.name, workers=args.workers, namespace=args.namespace, keep_within=args.keep_within
    )
    cluster = raycluster(d, opts)
    policies = network_policies(d, opts.name, cluster["metadata"]["namespace"])
    if args.output:
        files = {f"raycluster-{opts.name}.yaml": to_yaml(cluster)}
        if policies:
            files[f"networkpolicy-{opts.name}.yaml"] = "---\n".join(to_yaml(p) for p in policies)
        for path in write_files(args.output, files, "-o"):
            print(path)
    else:
        print("---\n".join(to_yaml(obj) for obj in (cluster, *policies)), end="")
    return 0
