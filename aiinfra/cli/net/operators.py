"""``aiinfra net render-operators | deploy | undeploy``: the NVIDIA operators for a definition.

This module adds its commands to the ``net`` group. It imports its library code (the
Kubernetes client, pydantic models) inside the handlers, so ``aiinfra net apply`` on a bare
node does not load them.

Example:
    $ aiinfra net render-operators clusters/a800-ib.yaml --registry mirror.local:5000 --pull-secret regcred
    $ aiinfra net deploy clusters/a800-ib.yaml --dry-run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from aiinfra.cli.arguments import output_dir, write_files
from aiinfra.errors import UsageError

if TYPE_CHECKING:
    from aiinfra.definition.model import ClusterDefinition
    from aiinfra.k8s.client import Kube
    from aiinfra.net.helm import ChartSource
    from aiinfra.net.operator_bundle import OperatorBundle

_DRIVERS = ("host", "container")
"""aiinfra.definition.operators.NicDriver's values (a test keeps them equal), without loading pydantic here."""


def register(net: argparse._SubParsersAction) -> None:
    """Add render-operators, deploy and undeploy to the ``net`` command group."""
    p = net.add_parser("render-operators", help="print (or write to -o DIR) the operators' values and resources")
    _common(p)
    p.add_argument("--kube-version", help="Kubernetes version of the target cluster (checked against the charts)")
    p.add_argument("-o", "--output", metavar="DIR", type=output_dir,
                   help="write DIR/<definition>-operators.yaml instead of printing")
    p.set_defaults(func=run_render)
    p = net.add_parser("deploy", help="install the Network Operator and GPU Operator and wait for the rails")
    _common(p)
    _cluster_args(p)
    p.add_argument("--dry-run", action="store_true", help="server-side dry run of everything; change nothing")
    p.add_argument("--no-wait", action="store_true", help="do not wait for the policy and the nodes' rail resources")
    p.add_argument("--timeout", type=float, default=1800, help="seconds to wait for readiness (default 1800)")
    p.set_defaults(func=run_deploy)
    p = net.add_parser("undeploy", help="remove the operators' custom resources, then their releases")
    _common(p)
    _cluster_args(p)
    p.set_defaults(func=run_undeploy)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("cluster", metavar="CLUSTER", help="cluster definition file")
    p.add_argument("--registry", help="mirror registry for every image (overrides operators.registry)")
    p.add_argument("--pull-secret", action="append", metavar="NAME", help="image pull secret (repeatable)")
    p.add_argument("--chart-repo", metavar="URL", help="Helm repository or oci:// registry serving both charts")
    p.add_argument("--nodes", type=int, help="GPU nodes the rail pools must cover (overrides operators.nodes)")
    p.add_argument("--driver", choices=_DRIVERS, help="NIC driver: host or container")


def _cluster_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", help="kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
    p.add_argument(
        "--chart",
        action="append",
        metavar="NAME=PATH",
        help="use a local chart folder or archive for network-operator/gpu-operator (air-gapped sites)",
    )


def _definition(args: argparse.Namespace) -> ClusterDefinition:
    from aiinfra.definition.loader import load_definition
    from aiinfra.definition.operators import NicDriver

    d = load_definition(args.cluster)
    update: dict[str, object] = {}
    for flag, key in (("registry", "registry"), ("chart_repo", "chart_repository"), ("nodes", "nodes")):
        if getattr(args, flag) is not None:
            update[key] = getattr(args, flag)
    if args.pull_secret:
        update["image_pull_secrets"] = args.pull_secret
    if args.driver:
        update["driver"] = NicDriver(args.driver)
    from pydantic import ValidationError

    try:
        ops = d.operators.model_validate({**d.operators.model_dump(), **update})
    except ValidationError as exc:
        # A value given on the command line that the definition's schema refuses: name the option.
        options = {"registry": "--registry", "chart_repository": "--chart-repo", "nodes": "--nodes",
                   "image_pull_secrets": "--pull-secret", "driver": "--driver"}
        first = exc.errors()[0]
        option = options.get(str(first["loc"][0]), str(first["loc"][0])) if first["loc"] else "an option"
        raise UsageError(f"{option}: {first['msg']} (got {first.get('input')!r:.80})") from None
    return d.model_copy(update={"operators": ops})


def _sources(d: ClusterDefinition, overrides: list[str] | None) -> dict[str, ChartSource]:
    from aiinfra.net.helm import ChartSource, pinned_source
    from aiinfra.upstream import GPU_OPERATOR, NETWORK_OPERATOR

    sources = {c.name: pinned_source(c, d.operators.chart_repository) for c in (NETWORK_OPERATOR, GPU_OPERATOR)}
    for item in overrides or []:
        name, sep, path = item.partition("=")
        if not sep or name not in sources or not Path(path).exists():
            raise UsageError(
                f"--chart {item}: expected network-operator=PATH or gpu-operator=PATH to an existing chart"
            )
        sources[name] = ChartSource(str(Path(path).resolve()))
    return sources


def run_render(args: argparse.Namespace) -> int:
    from aiinfra.net.operator_bundle import bundle_yaml, operator_bundle

    d = _definition(args)
    text = bundle_yaml(operator_bundle(d, args.kube_version))
    if args.output:
        for path in write_files(args.output, {f"{d.name}-operators.yaml": text}, "-o"):
            print(path)
    else:
        print(text, end="")
    return 0


def _connect(args: argparse.Namespace, d: ClusterDefinition) -> tuple[OperatorBundle, Kube]:
    from aiinfra.k8s.client import Kube
    from aiinfra.net.operator_bundle import operator_bundle

    operator_bundle(d)  # a definition that cannot work fails before any connection is made
    kube = Kube(args.kubeconfig)
    version = kube.client.VersionApi(kube.api).get_code().git_version
    return operator_bundle(d, version), kube


def run_deploy(args: argparse.Namespace) -> int:
    from rich.console import Console

    from aiinfra.net.deploy import deploy, wait_ready
    from aiinfra.net.helm import Helm
    from aiinfra.net.operators import shared_rails, sriov_rails

    d = _definition(args)
    bundle, kube = _connect(args, d)
    console = Console(stderr=True)
    helm = Helm(kubeconfig=args.kubeconfig)
    report = deploy(bundle, kube, helm, _sources(d, args.chart), args.dry_run, say=console.print)
    console.print(f"{report.changes} changes{' (dry run: nothing written)' if args.dry_run else ''}")
    if args.dry_run or args.no_wait or d.gpu is None:
        return 0
    resources = [r.resource_name for r in (*shared_rails(d), *sriov_rails(d))]
    with console.status("waiting for the operators") as status:

        def show(text: str) -> None:
            status.update(f"waiting: {text}")
            console.print(text)

        wait_ready(kube, f"nvidia.com/gpu.product={d.gpu.product}", resources, args.timeout, on_change=show)
    console.print("ready: every GPU node advertises its rail resources")
    return 0


def run_undeploy(args: argparse.Namespace) -> int:
    from rich.console import Console

    from aiinfra.net.deploy import undeploy
    from aiinfra.net.helm import Helm

    d = _definition(args)
    bundle, kube = _connect(args, d)
    report = undeploy(bundle, kube, Helm(kubeconfig=args.kubeconfig), say=Console(stderr=True).print)
    print(f"{report.changes} changes", file=sys.stderr)
    return 0
