"""Node conformance: the node checks (``aiinfra node check``) as 0/1 gauges with a reason.

One source of truth for a healthy node: this runs :func:`aiinfra.node.checks.rails.check_node`
on :func:`aiinfra.node.discovery.discover_node`, at most every 60 s (discovery walks sysfs
and NVML; the answers change on the scale of maintenance, not scrapes), and exports one
``aiinfra_node_check_pass{check, reason}`` per check.

Example:
    >>> check_of("rate-low"), check_of("no-gpudirect"), check_of("something-new")
    ('rails', 'gpudirect', 'something-new')
"""

from __future__ import annotations

import time
from collections import Counter

from aiinfra.findings import Finding
from aiinfra.monitor.exporter.metrics import Scrape, gauge
from aiinfra.monitor.exporter.nvml_session import session_for
from aiinfra.monitor.exporter.registry import ExporterConfig, register
from aiinfra.node.checks.rails import check_node
from aiinfra.node.discovery import discover_node

PASS = gauge(
    "aiinfra_node_check_pass", "1 when the check found no error; reason lists the error codes.", "check", "reason"
)
FINDINGS = gauge("aiinfra_node_check_findings", "Findings per check and severity.", "check", "severity")
AGE = gauge("aiinfra_node_check_age_seconds", "Seconds since the node checks last ran.")
REFRESH_S = 60.0
CHECKS = {
    "rails": ("rail-hca-missing", "port-missing", "link-layer-mismatch", "rate-low", "port-down", "roce-no-ipv4-gid",
              "roce-gid-index", "no-rdma"),
    "affinity": ("gpu-hca-affinity",),
    "gpus": ("gpu-count", "gpu-missing", "gpus-unknown"),
    "nvlink": ("nvlink-down",),
    "gpudirect": ("no-gpudirect", "gpudirect-mode"),
    "socket_ifname": ("socket-ifname-missing",),
}  # fmt: skip
_CHECK_OF = {code: check for check, codes in CHECKS.items() for code in codes}


def check_of(code: str) -> str:
    """The check a finding code belongs to (a code no check lists is its own check)."""
    return _CHECK_OF.get(code, code)


@register
class ConformanceCollector:
    name = "conformance"

    def __init__(self, config: ExporterConfig) -> None:
        self.config = config
        self.findings: list[Finding] | None = None
        self.ran_at = 0.0
        session = session_for(config.nvml)
        self.nvml = session.nvml if session is not None else None

    def collect(self, s: Scrape) -> None:
        root = self.config.root
        if root is None:
            s.error("read")  # discovery reads <root>/sys and <root>/proc: the paths must share a parent
            return
        now = time.monotonic()
        if self.findings is None or now - self.ran_at >= REFRESH_S:
            inv = discover_node(root, nvml=self.nvml)
            self.findings = check_node(inv, self.config.definition)
            self.ran_at = now
        s.add(AGE, now - self.ran_at)
        errors: dict[str, list[str]] = {check: [] for check in CHECKS}
        counts: Counter[tuple[str, str]] = Counter()
        for f in self.findings:
            check = check_of(f.code)
            errors.setdefault(check, [])
            counts[(check, f.severity)] += 1
            if f.severity == "error" and f.code not in errors[check]:
                errors[check].append(f.code)
        for check, codes in errors.items():
            s.add(PASS, 0 if codes else 1, check=check, reason=",".join(sorted(codes)))
        for (check, severity), n in sorted(counts.items()):
            s.add(FINDINGS, n, check=check, severity=severity)

    def close(self) -> None:
        pass
