"""The bundled NCCL / gloo benchmarks: collectives over a size sweep, busbw, verdicts, reports.

Modules: :mod:`~aiinfra.bench.bandwidth` (nccl-tests algbw/busbw), :mod:`~aiinfra.bench.collectives`
(one module per collective), :mod:`~aiinfra.bench.measure` (the timed loop in each process),
:mod:`~aiinfra.bench.worker` (one process), :mod:`~aiinfra.bench.runner`
(Ray actors or local processes; intra / rail / job modes), :mod:`~aiinfra.bench.verdict` (expectations
from the cluster definition), :mod:`~aiinfra.bench.report` (table, JSON, PNG).

Example:
    >>> from aiinfra.bench.bandwidth import bus_factor
    >>> bus_factor("all_reduce", 8)
    1.75
"""
