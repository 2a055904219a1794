"""``aiinfra render CLUSTER``: print or write the RayCluster and the NetworkPolicies a definition makes.

Printed as one YAML stream (``---`` between objects), in the order ``launch()`` creates them;
``-o DIR`` writes ``raycluster-NAME.yaml`` and ``networkpolicy-NAME.yaml``. The Ray token
Secret is not rendered: its value is made at launch and is never printed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from aiinfra.cli.arguments import dns_label, worker_count
from aiinfra.definition.loader import load_definition
from aiinfra.errors import UsageError
from aiinfra.k8s.network_policy import network_policies
from aiinfra.k8s.raycluster import LaunchOptions, raycluster, to_yaml


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="print (or write to -o DIR) the RayCluster and NetworkPolicies for a definition")
    p.add_argument("cluster", metavar="CLUSTER", help="cluster definition file")
    p.add_argument("--name", type=dns_label, help="RayCluster name (default: the definition's name)")
    p.add_argument("--workers", type=worker_count, help="worker replicas, 1..10000 (default: ray.workers.replicas)")
    p.add_argument("--namespace", type=dns_label)
    p.add_argument("--keep-within", metavar="LABEL", help="topology label all workers must share")
    p.add_argument("-o", "--output", metavar="DIR",
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
        print(write_atomically(Path(args.output), f"raycluster-{opts.name}.yaml", to_yaml(cluster)))
        if policies:
            text = "---\n".join(to_yaml(p) for p in policies)
            print(write_atomically(Path(args.output), f"networkpolicy-{opts.name}.yaml", text))
    else:
        print("---\n".join(to_yaml(obj) for obj in (cluster, *policies)), end="")
    return 0


def write_atomically(directory: Path, name: str, text: str) -> Path:
    """Write ``directory/name`` through a temporary file and a rename: a reader never sees half a file.

    Example:
        >>> import tempfile
        >>> write_atomically(Path(tempfile.mkdtemp()), "x.yaml", "a: 1\\n").read_text()
        'a: 1\\n'
    """
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"-o {directory}: exists and is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=directory, prefix=f".{name}.", delete=False) as f:
            tmp = Path(f.name)
            try:
                f.write(text)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        path = directory / name
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # what a plain open() would have made, not mkstemp's 0600
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(f"-o {directory}: cannot write there ({exc.strerror or exc})") from None
    return path
