"""The collectives the benchmark runs: one self-registering module each.

A module here describes one collective with :func:`collective`: its nccl-tests name and
aliases, the busbw factor, how the size column maps to each rank's buffers (the count
column as nccl-tests prints it), how its in-place variant shares one buffer, and how to
call ``torch.distributed`` and check the result. Adding a collective is one new module
here plus its test; :func:`registered` imports every module of the package.

This package imports no torch: verdicts and reports read the factors without the
training extra; only the ``run``/``fill``/``wrong`` functions, called from
:mod:`aiinfra.bench.measure` inside a worker, touch tensors.

Example:
    >>> [c.name for c in registered()]
    ['all_reduce', 'all_gather', 'reduce_scatter', 'alltoall', 'sendrecv']
    >>> lookup("a2a").bus_factor(4)
    0.75
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiinfra.errors import UsageError

InPlace = Literal["same", "input_in_output", "output_in_input", "none"]
"""How nccl-tests' in-place column lays out the buffers: one buffer for input and output
('same', all_reduce), the input is this rank's chunk of the output ('input_in_output',
all_gather), the output is this rank's chunk of the input ('output_in_input', reduce_scatter),
or not measured ('none': torch.distributed needs distinct buffers)."""


@dataclass
class Buffers:
    """One rank's buffers of one collective at one size, handed to a collective's functions.

    ``ramp(k)`` gives the values 1..k as a tensor of the buffers' dtype and device (the
    measuring loop supplies it, so collective modules need not import torch).
    """

    inp: Any
    out: Any
    rank: int
    n: int
    ramp: Callable[[int], Any] = field(repr=False)


@dataclass(frozen=True)
class Collective:
    """Everything the benchmark needs to know about one collective."""

    name: str
    """nccl-tests' name, e.g. 'all_gather'."""
    order: int
    """Position in ``all`` and in reports."""
    bus_factor: Callable[[int], float]
    """busbw / algbw for n ranks (nccl-tests' getBw)."""
    size_is_total: bool
    """Whether the size column counts all n chunks (the whole gathered or scattered array)."""
    input_count: Callable[[int, int], int]
    """Elements of one rank's input for ``count`` elements in the size column and n ranks."""
    output_count: Callable[[int, int], int]
    """Elements of one rank's output (out-of-place)."""
    count_column: Callable[[int, int], int]
    """nccl-tests' count column (its paramcount) for ``count`` elements in the size column."""
    in_place: InPlace
    run: Callable[[Buffers], Callable[[], object]]
    """A function issuing one op on these buffers through torch.distributed."""
    fill: Callable[[Buffers], None]
    """Fill the input with known values (small integers, exact in bf16)."""
    wrong: Callable[[Buffers], int]
    """Elements of the output that differ from what ``fill`` implies."""
    out_of_place: bool = True
    """Whether nccl-tests' out-of-place column is measured (distinct input and output buffers)."""
    aliases: tuple[str, ...] = ()
    redop: str = "none"
    min_ranks: int = 1

    @property
    def placements(self) -> tuple[str, ...]:
        """The columns measured, in nccl-tests' order: 'out-of-place', then 'in-place'.

        Example:
            >>> lookup("all_gather").placements, lookup("all_reduce").placements
            (('out-of-place', 'in-place'), ('in-place',))
        """
        return (("out-of-place",) if self.out_of_place else ()) + (("in-place",) if self.in_place != "none" else ())


_REGISTRY: dict[str, Collective] = {}


def collective(spec: Collective) -> Collective:
    """Register ``spec`` (called once at the end of each collective module); returns it.

    Example:
        >>> c = collective(Collective("example", 999, lambda n: 1.0, False, lambda c, n: c, lambda c, n: c,
        ...                           lambda c, n: c, "none", lambda b: lambda: None, lambda b: None, lambda b: 0))
        >>> lookup("example").order
        999
        >>> _ = _REGISTRY.pop("example")
    """
    _REGISTRY[spec.name] = spec
    return spec


def registered() -> list[Collective]:
    """Every collective of this package in report order (importing the modules registers them)."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return sorted(_REGISTRY.values(), key=lambda c: (c.order, c.name))


def names() -> tuple[str, ...]:
    """The registered collectives' names, in report order.

    Example:
        >>> names()[:2]
        ('all_reduce', 'all_gather')
    """
    return tuple(c.name for c in registered())


def lookup(name: str) -> Collective:
    """The collective called ``name`` in any common spelling ('allreduce', 'all-gather', 'a2a').

    Example:
        >>> lookup("AllReduce").name, lookup("reduce-scatter").name
        ('all_reduce', 'reduce_scatter')
    """
    key = name.strip().lower()
    for c in registered():
        if key == c.name or key in c.aliases:
            return c
    raise UsageError(f"unknown collective {name!r}; choose from {', '.join(names())} (or 'all')")


def whole_chunks(count: int, n: int) -> int:
    """``count`` rounded down to n equal chunks of whole elements, as nccl-tests does.

    Example:
        >>> whole_chunks(250, 3)
        249
    """
    return (count // n) * n
