"""``aiinfra net deploy``: CRDs, charts, custom resources, then wait until the rails are advertised.

Order, and why:

1. the charts' CRDs by server-side apply (helm installs ``crds/`` only on first
   install and never upgrades them);
2. ``helm upgrade --install`` of network-operator, then gpu-operator (skipped
   when the release already has the pinned chart and the same values);
3. the custom resources by server-side apply: NicClusterPolicy, then per rail
   the IPPool and the network (nv-ipam's CRDs appear once the operator has
   reconciled the policy, so a missing kind is waited for);
4. wait until the policy reports ``ready`` and every GPU node advertises each
   rail's resource.

With ``dry_run`` every object goes to the API server as a server-side dry run
(charts with ``helm --dry-run=server``) and nothing is written; a real deploy
runs that dry run first and stops before writing if anything is rejected.

Example:
    >>> report = deploy(bundle, Kube(), Helm(), sources, dry_run=True)   # doctest: +SKIP
    >>> report.changes                                                   # doctest: +SKIP
    0
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from aiinfra.errors import AiinfraError, LaunchTimeout
from aiinfra.k8s.client import Kube
from aiinfra.net.helm import ChartSource, Helm
from aiinfra.net.operator_bundle import OperatorBundle
from aiinfra.net.operators import NCP_API, NCP_NAME

Say = Callable[[str], None]


@dataclass
class DeployReport:
    """What a deploy did: one line per object, and how many changed."""

    lines: list[str] = field(default_factory=list)
    changes: int = 0

    def add(self, what: str, outcome: str) -> None:
        self.lines.append(f"{what}: {outcome}")
        if outcome not in ("unchanged", "valid", "absent"):
            self.changes += 1


def chart_crds(helm: Helm, source: ChartSource) -> list[dict[str, Any]]:
    """The CRDs a chart ships (its own and its sub-charts'), as ``helm show crds`` prints them."""
    out = helm.show_crds(source)
    return [d for d in yaml.safe_load_all(out) if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]


def apply_tracked(kube: Kube, obj: dict[str, Any], dry_run: bool) -> str:
    """Server-side apply; 'created', 'configured', 'unchanged' or 'valid' (dry run)."""
    meta = obj["metadata"]
    before = kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    after = kube.apply(obj, dry_run=dry_run)
    if dry_run:
        return "valid"
    if before is None:
        return "created"
    if not after["metadata"].get("resourceVersion"):
        raise AiinfraError(f"applying {_name(obj)}: the API server returned no resourceVersion")
    same = before["metadata"].get("resourceVersion") == after["metadata"].get("resourceVersion")
    return "unchanged" if same else "configured"


def _served(kube: Kube, obj: dict[str, Any]) -> bool:
    try:
        kube.resource(obj["apiVersion"], obj["kind"])
    except AiinfraError:
        kube._dynamic = None  # rediscover next time: the CRD may appear later
        return False
    return True


def _wait_served(kube: Kube, obj: dict[str, Any], say: Say, timeout: float = 600.0) -> None:
    """Wait for a kind the operator installs itself (nv-ipam's CRDs follow the policy's nvIpam)."""
    deadline = time.monotonic() + timeout
    if _served(kube, obj):
        return
    say(f"waiting for the operator to install {obj['kind']} ({obj['apiVersion']})")
    while not _served(kube, obj):
        if time.monotonic() > deadline:
            raise LaunchTimeout(
                f"{obj['kind']} ({obj['apiVersion']}) not served after {timeout:.0f}s: is the operator running?"
            )
        time.sleep(2)


def _name(obj: dict[str, Any]) -> str:
    ns = obj["metadata"].get("namespace")
    return f"{obj['kind']} {ns + '/' if ns else ''}{obj['metadata']['name']}"


def _pass(
    b: OperatorBundle, kube: Kube, helm: Helm, sources: dict[str, ChartSource], dry_run: bool, say: Say
) -> DeployReport:
    report = DeployReport()
    for r in b.releases:
        for crd in chart_crds(helm, sources[r.chart.name]):
            crd.get("metadata", {}).pop("creationTimestamp", None)
            report.add(_name(crd), apply_tracked(kube, crd, dry_run))
    for r in b.releases:
        src = sources[r.chart.name]
        outcome = helm.upgrade_install(r.chart.release, src, r.namespace, r.values, src.label, dry_run=dry_run)
        report.add(f"helm release {r.namespace}/{r.chart.release}", outcome)
    for obj in b.objects:
        if dry_run and not _served(kube, obj):
            # Installed by the operator itself once it runs (nv-ipam's IPPool): checked on the real pass.
            report.lines.append(f"{_name(obj)}: not served yet, checked when deployed")
            continue
        if not dry_run:
            _wait_served(kube, obj, say)
        report.add(_name(obj), apply_tracked(kube, obj, dry_run))
    for line in report.lines:
        say(line)
    return report


def deploy(
    b: OperatorBundle,
    kube: Kube,
    helm: Helm,
    sources: dict[str, ChartSource],
    dry_run: bool = False,
    say: Say = print,
) -> DeployReport:
    """Dry-run everything; unless ``dry_run``, then apply it all. Raises on the first rejection."""
    say("server-side dry run of every object")
    checked = _pass(b, kube, helm, sources, True, lambda _: None)
    if dry_run:
        for line in checked.lines:
            say(line)
        return checked
    say("applying")
    return _pass(b, kube, helm, sources, False, say)


def undeploy(b: OperatorBundle, kube: Kube, helm: Helm, say: Say = print) -> DeployReport:
    """Delete the custom resources (networks before pools before the policy), then the releases."""
    report = DeployReport()
    for obj in reversed(b.objects):
        meta = obj["metadata"]
        gone = not _served(kube, obj) or not kube.delete(
            obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")
        )
        report.add(_name(obj), "absent" if gone else "deleted")
    for r in reversed(b.releases):
        report.add(
            f"helm release {r.namespace}/{r.chart.release}",
            "uninstalled" if helm.uninstall(r.chart.release, r.namespace) else "absent",
        )
    for line in report.lines:
        say(line)
    return report


@dataclass(frozen=True)
class Readiness:
    """Where the rollout stands: the policy state and which node lacks which rail resource."""

    policy: str
    nodes: int
    missing: dict[str, list[str]]

    @property
    def ready(self) -> bool:
        return self.policy == "ready" and self.nodes > 0 and not self.missing

    def describe(self) -> str:
        gaps = "; ".join(f"{n}: no {', '.join(r)}" for n, r in sorted(self.missing.items())[:3])
        return f"NicClusterPolicy {self.policy}, {self.nodes} GPU nodes" + (f" ({gaps})" if gaps else "")


def readiness(kube: Kube, node_selector: str, resources: list[str]) -> Readiness:
    """Read the policy's status.state and each selected node's allocatable rail resources."""
    ncp = kube.get(NCP_API, "NicClusterPolicy", NCP_NAME) or {}
    state = (ncp.get("status") or {}).get("state") or "absent"
    nodes = kube.core.list_node(label_selector=node_selector).items
    missing: dict[str, list[str]] = {}
    for node in nodes:
        alloc = node.status.allocatable or {} if node.status else {}
        lacking = [r for r in resources if str(alloc.get(r, "0")) in ("0", "")]
        if lacking:
            missing[node.metadata.name] = lacking
    return Readiness(state, len(nodes), missing)


def wait_ready(
    kube: Kube,
    node_selector: str,
    resources: list[str],
    timeout: float,
    on_change: Say = print,
    poll: float = 1.0,
) -> Readiness:
    """Poll until ready; report each change of state; LaunchTimeout (with the last state) after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        now = readiness(kube, node_selector, resources)
        text = now.describe()
        if text != last:
            on_change(text)
            last = text
        if now.ready:
            return now
        if time.monotonic() > deadline:
            raise LaunchTimeout(f"network operators not ready after {timeout:.0f}s: {text}")
        time.sleep(poll)
