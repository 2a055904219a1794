"""Node conformance: the node checks (``aiinfra node check``) as 0/1 gauges with a reason.

One source of truth for a healthy node: this runs every check registered in
:mod:`aiinfra.node.checks` (the ones :func:`~aiinfra.node.checks.check_node` runs) on
:func:`aiinfra.node.discovery.discover_node`, at most every 60 s (discovery walks sysfs and
NVML; the answers change on the scale of maintenance, not scrapes), and exports one
``aiinfra_node_check_pass{check, reason}`` per check. A new node check appears here by itself.

Example:
    >>> sorted(c.name for c in registered_checks() if c.name not in SKIPPED)
    ['acs', 'driver-versions', 'gpu-model', 'gpudirect', 'gpus', 'iommu', 'memlock', 'mtu', 'rails', 'socket-ifname']
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from aiinfra.findings import Finding
from aiinfra.monitor.exporter.metrics import Scrape, gauge
from aiinfra.monitor.exporter.nvml_session import session_for
from aiinfra.monitor.exporter.registry import ExporterConfig, register
from aiinfra.node.checks import registered_checks
from aiinfra.node.discovery import discover_node

PASS = gauge(
    "aiinfra_node_check_pass", "1 when the check found no error; reason lists the error codes.", "check", "reason"
)
FINDINGS = gauge("aiinfra_node_check_findings", "Findings per check and severity.", "check", "severity")
AGE = gauge("aiinfra_node_check_age_seconds", "Seconds since the node checks last ran.")
REFRESH_S = 60.0
SKIPPED = {"environ"}  # checks the caller's environment: the exporter's own says nothing about the node
log = logging.getLogger(__name__)


@register
class ConformanceCollector:
    name = "conformance"

    def __init__(self, config: ExporterConfig) -> None:
        self.config = config
        self.results: dict[str, list[Finding] | None] | None = None
        self.ran_at = 0.0
        session = session_for(config.nvml)
        self.nvml = session.nvml if session is not None else None

    def _run(self, s: Scrape) -> dict[str, list[Finding] | None]:
        inv = discover_node(self.config.root, nvml=self.nvml)  # type: ignore[arg-type]
        results: dict[str, list[Finding] | None] = {}
        for check in registered_checks():
            if check.name in SKIPPED:
                continue
            try:
                results[check.name] = check.run(inv, self.config.definition, {})
            except Exception as exc:  # one broken check must not hide the others
                log.warning("node check %s failed: %s", check.name, exc)
                results[check.name] = None
        return results

    def collect(self, s: Scrape) -> None:
        if self.config.root is None:
            s.error("read")  # discovery reads <root>/sys and <root>/proc: the paths must share a parent
            return
        now = time.monotonic()
        if self.results is None or now - self.ran_at >= REFRESH_S:
            self.results = self._run(s)
            self.ran_at = now
        s.add(AGE, now - self.ran_at)
        for check, findings in self.results.items():
            if findings is None:
                s.error("exception")
                s.add(PASS, 0, check=check, reason="check-failed")
                continue
            errors = sorted({f.code for f in findings if f.severity == "error"})
            s.add(PASS, 0 if errors else 1, check=check, reason=",".join(errors))
            for severity, n in sorted(Counter(f.severity for f in findings).items()):
                s.add(FINDINGS, n, check=check, severity=severity)

    def close(self) -> None:
        pass
