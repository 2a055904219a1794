"""The aiinfra exporter: Prometheus metrics node_exporter and dcgm-exporter lack.

One module per subject under ``collectors/`` registers itself with
:func:`aiinfra.monitor.exporter.registry.register`; :class:`~aiinfra.monitor.exporter.exporter.Exporter`
runs the enabled ones on every scrape, times them and turns any failure into
``aiinfra_collector_success 0`` plus ``aiinfra_collector_errors_total``: a scrape never crashes.

Example:
    >>> from pathlib import Path
    >>> from aiinfra.monitor.exporter.exporter import Exporter
    >>> from aiinfra.monitor.exporter.registry import ExporterConfig
    >>> exp = Exporter(ExporterConfig(sysfs=Path("tests/fixtures/sysfs/a800-ib/sys"),
    ...                               procfs=Path("tests/fixtures/sysfs/a800-ib/proc"), nvml=None,
    ...                               enabled=frozenset({"infiniband"})))
    >>> "aiinfra_infiniband_port_active" in exp.exposition()
    True
"""
