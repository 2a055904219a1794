"""Metric specifications and the per-scrape sample sink that collectors write to.

Every metric the exporter can emit is a module-level :class:`MetricSpec`; docs and
tests read the catalogue (:data:`CATALOGUE`) so the documented names cannot drift.
:class:`Scrape` also reads files for a collector, counting what is missing or garbled
instead of raising.

Example:
    >>> spec = MetricSpec("aiinfra_demo_total", "a demo", "counter", ("gpu",))
    >>> s = Scrape("demo")
    >>> s.add(spec, 3, gpu="0")
    >>> [(m.name, m.samples[0].value) for m in s.families()]
    [('aiinfra_demo', 3.0)]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

Kind = Literal["gauge", "counter"]
CATALOGUE: dict[str, MetricSpec] = {}
"""Every metric name the exporter defines, filled as collector modules are imported."""


@dataclass(frozen=True)
class MetricSpec:
    """One metric: name, help text, type and label names (in exposition order)."""

    name: str
    doc: str
    kind: Kind
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name} must end in _total")
        CATALOGUE[self.name] = self


def gauge(name: str, doc: str, *labels: str) -> MetricSpec:
    """A gauge spec (registered in :data:`CATALOGUE`)."""
    return MetricSpec(name, doc, "gauge", labels)


def counter(name: str, doc: str, *labels: str) -> MetricSpec:
    """A counter spec; ``name`` ends in ``_total``."""
    return MetricSpec(name, doc, "counter", labels)


def natural(name: str) -> list[int | str]:
    """Sort key putting mlx5_2 before mlx5_10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


class Scrape:
    """What one collector produced in one scrape: samples and the errors it hit."""

    def __init__(self, collector: str) -> None:
        self.collector = collector
        self.errors: Counter[str] = Counter()
        self._families: dict[str, tuple[MetricSpec, Metric]] = {}
        self._seen: set[tuple[str, tuple[str, ...]]] = set()

    def add(self, spec: MetricSpec, value: float | None, **labels: str) -> None:
        """One sample; ``None`` values are skipped (the field was unavailable), a repeated label set too."""
        if value is None:
            return
        values = [str(labels[k]) for k in spec.labels]  # KeyError here is a programming error
        key = (spec.name, tuple(values))
        if key in self._seen:
            return
        self._seen.add(key)
        entry = self._families.get(spec.name)
        if entry is None:
            family: Metric
            if spec.kind == "counter":
                family = CounterMetricFamily(spec.name, spec.doc, labels=spec.labels)
            else:
                family = GaugeMetricFamily(spec.name, spec.doc, labels=spec.labels)
            entry = self._families[spec.name] = (spec, family)
        entry[1].add_metric(values, float(value))  # type: ignore[attr-defined]

    def error(self, reason: str) -> None:
        """Count one error (``read``, ``parse``, ``nvml``, ``exception``)."""
        self.errors[reason] += 1

    def families(self) -> Iterator[Metric]:
        for _, family in self._families.values():
            yield family

    # Reading sysfs/procfs: a missing or garbled file is counted, never raised.

    def text(self, path: Path, *, required: bool = True) -> str | None:
        """The stripped content of ``path``, or None (counted as a read error when ``required``)."""
        try:
            return path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            if required:
                self.error("read")
            return None

    def integer(self, path: Path, *, required: bool = True) -> int | None:
        """``path`` as an integer, or None (read or parse error counted)."""
        raw = self.text(path, required=required)
        if raw is None:
            return None
        try:
            return int(raw, 0) if raw.startswith("0x") else int(raw)
        except ValueError:
            self.error("parse")
            return None

    def listdir(self, path: Path, *, required: bool = False) -> list[str]:
        """Sorted entry names of a directory, [] when it is missing."""
        try:
            return sorted((p.name for p in path.iterdir()), key=natural)
        except OSError:
            if required:
                self.error("read")
            return []
