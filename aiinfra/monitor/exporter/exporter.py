"""The prometheus_client collector that runs every enabled aiinfra collector per scrape.

:class:`Exporter` runs the collectors registered in :mod:`aiinfra.monitor.exporter.registry`,
measures each, and turns any exception into ``aiinfra_collector_success{collector} 0`` and
``aiinfra_collector_errors_total``.

Example:
    >>> sorted(available())[:3]
    ['bonding', 'conformance', 'gpu_memory']
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import pkgutil
import time
from collections import Counter
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.utils import floatToGoString

from aiinfra.monitor.exporter import collectors
from aiinfra.monitor.exporter.metrics import Scrape
from aiinfra.monitor.exporter.registry import (
    _REGISTRY,
    BUILD,
    DURATION,
    ERRORS,
    SUCCESS,
    Collector,
    CollectorFactory,
    ExporterConfig,
)

log = logging.getLogger(__name__)
try:  # not `from aiinfra import __version__`: the package root reaches Ray (lazily), node-side code must not
    _VERSION = importlib.metadata.version("aiinfra")
except importlib.metadata.PackageNotFoundError:
    _VERSION = "unknown"


def available() -> dict[str, CollectorFactory]:
    """Every registered collector, importing each module of the collectors package once."""
    for info in pkgutil.iter_modules(collectors.__path__):
        importlib.import_module(f"{collectors.__name__}.{info.name}")
    return dict(_REGISTRY)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_text(families: Iterable[Metric]) -> str:
    """Metric families in the Prometheus text format 0.0.4."""
    out: list[str] = []
    for m in families:
        name = m.name + "_total" if m.type == "counter" else m.name
        doc = m.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        out.append(f"# HELP {name} {doc}\n# TYPE {name} {m.type}\n")
        for sample in m.samples:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(sample.labels.items()))
            value = floatToGoString(sample.value)
            out.append(f"{sample.name}{{{labels}}} {value}\n" if labels else f"{sample.name} {value}\n")
    return "".join(out)


class Exporter:
    """A prometheus_client custom collector running the enabled aiinfra collectors."""

    def __init__(self, config: ExporterConfig) -> None:
        self.config = config
        factories = available()
        names = sorted(config.enabled if config.enabled is not None else factories)
        unknown = [n for n in [*names, *config.disabled] if n not in factories]
        if unknown:
            raise ValueError(f"unknown collector(s): {', '.join(unknown)} (known: {', '.join(sorted(factories))})")
        self.collectors: list[Collector] = [factories[n](config) for n in names if n not in config.disabled]
        self.error_totals: Counter[tuple[str, str]] = Counter()

    def describe(self) -> list[Metric]:
        return []  # names vary with the hardware; skip prometheus_client's describe-by-collecting

    def collect(self) -> Iterator[Metric]:
        meta = Scrape("exporter")
        meta.add(BUILD, 1, version=_VERSION)
        merged: dict[str, Metric] = {}
        for c in self.collectors:
            scrape = Scrape(c.name)
            t0 = time.perf_counter()
            try:
                c.collect(scrape)
            except Exception as exc:  # fail-soft: one collector's bug must not cost the others
                log.warning("collector %s failed: %s", c.name, exc, exc_info=log.isEnabledFor(logging.DEBUG))
                scrape.error("exception")
            meta.add(DURATION, time.perf_counter() - t0, collector=c.name)
            meta.add(SUCCESS, 0 if scrape.errors else 1, collector=c.name)
            for reason, n in scrape.errors.items():
                self.error_totals[(c.name, reason)] += n
            for family in scrape.families():
                # Several GPU collectors report aiinfra_gpu_field_unavailable: one family per name in the output.
                if family.name in merged:
                    merged[family.name].samples.extend(family.samples)
                else:
                    merged[family.name] = family
        for (name, reason), n in sorted(self.error_totals.items()):
            meta.add(ERRORS, n, collector=name, reason=reason)
        yield from merged.values()
        yield from meta.families()

    def registry(self) -> CollectorRegistry:
        """A registry holding only this exporter (no process or platform metrics)."""
        reg = CollectorRegistry(auto_describe=False)
        reg.register(self)
        return reg

    def exposition(self) -> str:
        """One scrape in the Prometheus text format (0.0.4), as prometheus_client's generate_latest writes it.

        Rendered here because generate_latest re-validates every label name of every sample,
        which costs more than collecting; tests check both give the same text.
        """
        return render_text(self.collect())

    def close(self) -> None:
        for c in self.collectors:
            c.close()
