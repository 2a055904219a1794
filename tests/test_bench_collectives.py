"""The collective registry: one module per collective, nccl-tests conventions, in-place buffer layouts."""

from __future__ import annotations

import pkgutil

import pytest

import aiinfra.bench.collectives as package
from aiinfra.bench.collectives import Buffers, lookup, names, registered
from aiinfra.errors import UsageError


def test_every_module_registers_one_collective() -> None:
    modules = sorted(info.name for info in pkgutil.iter_modules(package.__path__))
    assert sorted(names()) == modules  # the module name is the collective's name
    assert names() == ("all_reduce", "all_gather", "reduce_scatter", "alltoall", "sendrecv")


@pytest.mark.parametrize(
    ("name", "count", "n", "inp", "out", "column"),
    [
        ("all_reduce", 1000, 4, 1000, 1000, 1000),
        ("all_gather", 1000, 3, 333, 999, 333),  # nccl-tests: count column = one chunk (paramcount)
        ("reduce_scatter", 1000, 3, 999, 333, 333),
        ("alltoall", 1000, 3, 999, 999, 333),
        ("sendrecv", 1000, 3, 1000, 1000, 1000),
    ],
)
def test_counts_follow_nccl_tests(name: str, count: int, n: int, inp: int, out: int, column: int) -> None:
    c = lookup(name)
    assert (c.input_count(count, n), c.output_count(count, n), c.count_column(count, n)) == (inp, out, column)


def test_placements_say_what_torch_distributed_can_do() -> None:
    assert {c.name: c.placements for c in registered()} == {
        "all_reduce": ("in-place",),  # torch's all_reduce has no separate output buffer
        "all_gather": ("out-of-place", "in-place"),
        "reduce_scatter": ("out-of-place", "in-place"),
        "alltoall": ("out-of-place",),
        "sendrecv": ("out-of-place",),
    }


def test_unknown_collective_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="broadcast"):
        lookup("broadcast")


@pytest.mark.torch
@pytest.mark.parametrize("placement", ["out-of-place", "in-place"])
def test_in_place_buffers_share_one_allocation(placement: str) -> None:
    import torch  # marked: CI installs [train]

    from aiinfra.bench.measure import buffers

    cpu, f32 = torch.device("cpu"), torch.float32
    ag = buffers(lookup("all_gather"), placement, 4096, 4, 2, f32, cpu)
    rs = buffers(lookup("reduce_scatter"), placement, 4096, 4, 2, f32, cpu)
    assert (ag.inp.numel(), ag.out.numel(), rs.inp.numel(), rs.out.numel()) == (256, 1024, 1024, 256)
    if placement == "in-place":  # this rank's chunk: offset rank * chunk bytes, as nccl-tests' InplaceOffset
        assert ag.inp.data_ptr() - ag.out.data_ptr() == 2 * 256 * 4
        assert rs.out.data_ptr() - rs.inp.data_ptr() == 2 * 256 * 4
    else:
        assert ag.inp.untyped_storage().data_ptr() != ag.out.untyped_storage().data_ptr()


@pytest.mark.torch
def test_checks_find_wrong_elements() -> None:
    import torch
    c = lookup("all_gather")
    out = torch.tensor([1.0, 1.0, 2.0, 5.0])
    b = Buffers(out[:2], out, 0, 2, lambda k: torch.arange(1, k + 1, dtype=torch.float32))
    assert c.wrong(b) == 1
