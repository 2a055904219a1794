"""The collector registry: a collector is a class with a ``name`` and ``collect(scrape)``.

Decorating it with :func:`register` is all it takes to add one (plus its golden);
:class:`aiinfra.monitor.exporter.exporter.Exporter` runs the registered ones.

Example:
    >>> ExporterConfig(sysfs=Path("/host/sys"), procfs=Path("/host/proc")).root
    PosixPath('/host')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from aiinfra.definition.model import ClusterDefinition
from aiinfra.monitor.exporter.metrics import Scrape, counter, gauge

SUCCESS = gauge("aiinfra_collector_success", "1 when the collector read everything in its last scrape.", "collector")
DURATION = gauge("aiinfra_collector_duration_seconds", "Time the collector took in this scrape.", "collector")
ERRORS = counter(
    "aiinfra_collector_errors_total", "Errors the collector hit since start, by reason.", "collector", "reason"
)
BUILD = gauge("aiinfra_exporter_build_info", "The aiinfra version of this exporter.", "version")


@dataclass
class ExporterConfig:
    """Where to read from and what to expect."""

    sysfs: Path = Path("/sys")
    procfs: Path = Path("/proc")
    definition: ClusterDefinition | None = None
    nvml: Any = None
    """A pynvml-like object (the pynvml module, or a recorded NVML); None: no GPU collectors' data."""
    enabled: frozenset[str] | None = None
    """Collector names to run; None: all registered."""
    disabled: frozenset[str] = field(default_factory=frozenset)

    @property
    def root(self) -> Path | None:
        """The common prefix of /sys and /proc (what aiinfra.node discovery takes), when there is one."""
        if self.sysfs.name == "sys" and self.procfs == self.sysfs.parent / "proc":
            return self.sysfs.parent
        return None


class Collector(Protocol):
    name: ClassVar[str]

    def collect(self, scrape: Scrape) -> None: ...

    def close(self) -> None: ...


CollectorFactory = Callable[[ExporterConfig], Collector]
_REGISTRY: dict[str, CollectorFactory] = {}


def register(cls: Any) -> Any:
    """Class decorator: make a collector available under ``cls.name``."""
    if cls.name in _REGISTRY:
        raise ValueError(f"collector {cls.name} registered twice")
    _REGISTRY[cls.name] = cls
    return cls
