"""``aiinfra monitor render|deploy CLUSTER``: the monitoring stack rendered from a definition.

Example:
    $ aiinfra monitor deploy clusters/a800-ib.yaml --dry-run
    $ aiinfra monitor render clusters/a800-ib.yaml -o out/
    out/kube-prometheus-stack-values.yaml
    out/aiinfra.rules.yaml
    out/monitoring-objects.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from aiinfra.cli.arguments import dns_label, output_dir, write_files
from aiinfra.definition.loader import load_definition
from aiinfra.errors import UsageError
from aiinfra.monitor.rules import alert_rules
from aiinfra.monitor.rules.render import RULES_FILE, dump, rules_file
from aiinfra.monitor.stack import MonitorOptions, monitoring_objects, stack_values
from aiinfra.monitor.stack.alertmanager import RECEIVERS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("monitor", help="render or deploy alert rules, dashboards and kube-prometheus-stack values")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    render = verbs.add_parser("render", help="write the stack's values, rules file and objects")
    _common(render)
    render.add_argument("-o", "--output", metavar="DIR", type=output_dir,
                        help="write files to DIR instead of printing the objects")
    render.set_defaults(func=run_render)
    deploy = verbs.add_parser(
        "deploy", help="install kube-prometheus-stack with the rendered values, then apply the exporter, rules, "
        "dashboards and monitors (the network setup's deploy path: dry run of everything first)")
    _common(deploy)
    deploy.add_argument("--dry-run", action="store_true", help="let the API server validate, change nothing")
    deploy.add_argument("--kubeconfig")
    deploy.add_argument("--chart", metavar="PATH", help="a local kube-prometheus-stack chart (air-gapped sites)")
    deploy.add_argument("--chart-repo", metavar="URL", help="Helm repository or oci:// registry serving the chart")
    deploy.add_argument("--objects-only", action="store_true",
                        help="the stack is installed already: apply only aiinfra's objects")
    deploy.set_defaults(func=run_deploy)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("cluster", metavar="CLUSTER", help="cluster definition file")
    p.add_argument("--namespace", default="monitoring", type=dns_label,
                   help="namespace of kube-prometheus-stack (default monitoring)")
    p.add_argument("--release", default="kube-prometheus-stack", type=dns_label, help="Helm release name")
    p.add_argument("--registry", help="pull every image of the stack from this registry")
    p.add_argument("--pull-secret", help="image pull secret for the stack's pods")
    p.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="RECEIVER=URL",
        help=f"webhook of an Alertmanager receiver ({', '.join(RECEIVERS)}); repeatable",
    )


def _options(args: argparse.Namespace) -> MonitorOptions:
    webhooks = {}
    for item in args.webhook:
        name, sep, url = item.partition("=")
        if not sep or name not in RECEIVERS or not url:
            raise UsageError(f"--webhook {item!r}: expected RECEIVER=URL with RECEIVER one of {', '.join(RECEIVERS)}")
        webhooks[name] = url
    return MonitorOptions(
        release=args.release,
        namespace=args.namespace,
        registry=args.registry,
        pull_secret=args.pull_secret,
        webhooks=webhooks,
    )


def run_render(args: argparse.Namespace) -> int:
    d = load_definition(args.cluster)
    opts = _options(args)
    objects = yaml.safe_dump_all(monitoring_objects(d, opts), sort_keys=False, allow_unicode=True, width=120)
    if not args.output:
        print(objects, end="")
        return 0
    files = {
        "kube-prometheus-stack-values.yaml": dump(stack_values(opts, d)),
        RULES_FILE: rules_file(alert_rules(d, opts.thresholds), opts.thresholds),
        "monitoring-objects.yaml": objects,
    }
    for path in write_files(args.output, files, "-o"):
        print(path)
    return 0


def run_deploy(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from aiinfra.k8s.client import Kube
    from aiinfra.monitor.exporter_deploy import render_exporter
    from aiinfra.net.deploy import deploy
    from aiinfra.net.helm import ChartSource, Helm, pinned_source
    from aiinfra.net.operator_bundle import OperatorBundle, Release
    from aiinfra.upstream import KUBE_PROMETHEUS_STACK

    d = load_definition(args.cluster)
    opts = _options(args)
    if args.chart and not Path(args.chart).exists():
        raise UsageError(f"--chart {args.chart}: no such chart folder or archive")
    chart = replace(KUBE_PROMETHEUS_STACK, namespace=opts.namespace, release=opts.release)
    releases = [] if args.objects_only else [Release(chart, opts.namespace, stack_values(opts, d))]
    objects = [*render_exporter(d, namespace=opts.namespace), *monitoring_objects(d, opts)]
    source = ChartSource(str(Path(args.chart).resolve())) if args.chart else pinned_source(chart, args.chart_repo)
    helm = Helm(kubeconfig=args.kubeconfig)
    deploy(OperatorBundle(releases, objects), Kube(args.kubeconfig), helm, {chart.name: source}, args.dry_run)
    return 0
