"""Mark the Kubernetes nodes the fabric test found bad (opt-in: ``--label`` / ``--taint``), from every level.

One key, :data:`~aiinfra.contract.FABRIC_FAILED_KEY`, for the label and the NoSchedule taint; its value lists
what failed, as a valid label value (<= 63 characters of ``[A-Za-z0-9._-]``): check codes of levels 1 and 2
(``port-down.rate-low``), and from level 3 ``slow-node`` or ``slow-rail-<rails>`` (``slow-rail-rail2-rail5``).
The annotation :data:`~aiinfra.contract.FABRIC_FAILED_DETAIL_ANNOTATION` says in words which level found what.
A node that every level run found good loses both; a node still undecided keeps whatever it had.

Example:
    >>> from aiinfra.net.fabric.localise import Fault
    >>> marks = Marks()
    >>> marks.add_faults([Fault("rail", "gpu-2", "rail2"), Fault("link", "gpu-1", "rail0", "gpu-3")],
    ...                  ["gpu-1", "gpu-2", "gpu-3"], "simulated data plane")
    >>> marks.tokens, marks.good()
    ({'gpu-2': ['slow-rail-rail2']}, ['gpu-1', 'gpu-3'])
    >>> marks.details["gpu-2"]
    ['level 3: slow rail rail2 (simulated data plane)']
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiinfra.contract import FABRIC_FAILED_DETAIL_ANNOTATION, FABRIC_FAILED_KEY
from aiinfra.findings import Finding
from aiinfra.k8s.client import Kube
from aiinfra.net.fabric.localise import Fault


@dataclass
class Marks:
    """Per node what failed (label tokens) and in words (details); and every node some level checked."""

    tokens: dict[str, list[str]] = field(default_factory=dict)
    details: dict[str, list[str]] = field(default_factory=dict)
    checked: set[str] = field(default_factory=set)
    undecided: set[str] = field(default_factory=set)

    def add(self, node: str, token: str, detail: str) -> None:
        """One thing wrong with ``node``."""
        self.checked.add(node)
        self.tokens.setdefault(node, []).append(token)
        self.details.setdefault(node, []).append(detail)

    def add_findings(self, level: int, findings: dict[str, list[Finding]]) -> None:
        """Level 1 or 2: each node's error findings (devices read ``<node>:<device>``); checked nodes."""
        self.checked |= set(findings)
        for node, fs in findings.items():
            for f in fs:
                if f.severity == "error":
                    where = f.device.split(":", 1)[1] if ":" in f.device else ""
                    self.add(node, f.code, f"level {level}: {f.code} {where}".rstrip())

    def add_faults(self, faults: Iterable[Fault], measured: Iterable[str], source: str,
                   undecided: Iterable[str] = ()) -> None:
        """Level 3: a slow node or slow rails mark the node; every measured node, not undecided, was checked.

        A bad link marks neither end: a link between two nodes is a cable or a switch port, not a node, and
        both ends measured fine with every other partner; tainting them would take two good nodes away and
        leave the cable as it is. It stays in the report (a finding and a metric) for whoever owns the switches.
        """
        self.checked |= set(measured) - set(undecided)
        self.undecided |= set(undecided)
        rails: dict[str, list[str]] = {}
        for f in faults:
            if f.kind == "node":
                self.add(f.node, "slow-node", f"level 3: slow node, every rail ({source})")
            elif f.kind == "rail" and f.rail is not None:
                rails.setdefault(f.node, []).append(f.rail)
        for node, names in sorted(rails.items()):
            names = sorted(names)
            self.add(node, "slow-rail-" + "-".join(names),
                     f"level 3: slow rail{'s' if len(names) > 1 else ''} {', '.join(names)} ({source})")

    def good(self) -> list[str]:
        """Checked, nothing found, not undecided: these lose a mark from an earlier run."""
        return sorted(self.checked - set(self.tokens) - self.undecided)


def mark_value(codes: list[str]) -> str:
    """A label value (<= 63, [A-Za-z0-9._-]) naming what failed.

    Example:
        >>> mark_value(["rate-low", "port-down", "rate-low"])
        'port-down.rate-low'
        >>> mark_value(["slow-rail-rail/2", "x" * 80])[:20]
        'slow-rail-rail-2.xxx'
    """
    return re.sub(r"[^A-Za-z0-9._-]", "-", ".".join(sorted(set(codes))))[:63].strip("-._") or "failed"


def mark_nodes(kube: Kube, bad: dict[str, list[str]], good: list[str], label: bool, taint: bool,
               details: dict[str, list[str]] | None = None) -> list[str]:
    """Label and/or taint (NoSchedule) each bad node with the failed codes; unmark the good ones. Lines said.

    ``details`` (per node, in words) goes to the annotation beside the mark. A name that is no Kubernetes
    node (a Ray node outside Kubernetes) is said and left alone.
    """
    lines = []
    for node in sorted({*bad, *good}):
        try:
            current = kube.core.read_node(node)
        except kube.client.exceptions.ApiException as exc:
            if exc.status != 404:
                raise
            lines.append(f"{node}: not a Kubernetes node, not marked")
            continue
        all_taints = current.spec.taints or []
        taints = [{"key": t.key, "value": t.value, "effect": t.effect} for t in all_taints
                  if t.key != FABRIC_FAILED_KEY]
        value = mark_value(bad[node]) if node in bad else None
        marked = FABRIC_FAILED_KEY in (current.metadata.labels or {}) or len(taints) < len(all_taints)
        if value is None and not marked:
            continue
        patch: dict[str, Any] = {}
        detail = ("; ".join(dict.fromkeys((details or {}).get(node, []))) or None) if value else None
        if label:
            patch["metadata"] = {"labels": {FABRIC_FAILED_KEY: value}}
        if taint:
            if value:
                taints.append({"key": FABRIC_FAILED_KEY, "value": value, "effect": "NoSchedule"})
            patch["spec"] = {"taints": [{k: v for k, v in t.items() if v is not None} for t in taints]}
        if patch:
            patch.setdefault("metadata", {})["annotations"] = {FABRIC_FAILED_DETAIL_ANNOTATION: detail}
            kube.core.patch_node(node, patch)
            lines.append(f"{node}: {'marked ' + value if value else 'unmarked'}" + (f" ({detail})" if detail else ""))
    return lines
