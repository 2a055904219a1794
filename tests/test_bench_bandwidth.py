"""algbw / busbw follow nccl-tests (doc/PERFORMANCE.md, src/*.cu getBw): factors, size column, units."""

from __future__ import annotations

import pytest

from aiinfra.bench.bandwidth import (
    algbw,
    bus_factor,
    busbw,
    canonical,
    effective_size,
    elements_per_rank,
    format_size,
    parse_size,
    size_is_total,
    size_sweep,
)
from aiinfra.errors import UsageError

# Rows of ../shared/fixtures/nccl/2xh200-torch-busbw.json (plain torch loop, 2x H200, NCCL 2.28).
H200X2 = [
    ("all_reduce", 1048576, 38.730239868164055, 27.073831806084964, 27.073831806084964),
    ("all_reduce", 4294967296, 12352.547454833984, 347.6989108282461, 347.6989108282461),
    ("all_gather", 2097152, 39.36448097229004, 53.27523564901705, 26.637617824508524),
    ("all_gather", 8589934592, 14651.148986816406, 586.2976753379214, 293.1488376689607),
]


@pytest.mark.parametrize(
    ("collective", "n", "factor"),
    [
        ("all_reduce", 2, 1.0),  # 2(n-1)/n: busbw == algbw on two ranks
        ("all_reduce", 4, 1.5),
        ("all_reduce", 8, 1.75),
        ("all_gather", 2, 0.5),  # (n-1)/n
        ("all_gather", 8, 0.875),
        ("reduce_scatter", 8, 0.875),
        ("alltoall", 4, 0.75),
        ("sendrecv", 8, 1.0),
        ("all_reduce", 1, 0.0),
    ],
)
def test_factors_are_nccl_tests(collective: str, n: int, factor: float) -> None:
    assert bus_factor(collective, n) == pytest.approx(factor)


def test_reference_run_reproduces() -> None:
    for coll, size, time_us, alg, bus in H200X2:
        assert algbw(size, time_us / 1e6) == pytest.approx(alg, rel=1e-9)
        assert busbw(size, time_us / 1e6, coll, 2) == pytest.approx(bus, rel=1e-9)


def test_gigabytes_are_decimal() -> None:
    assert algbw(10**9, 1.0) == pytest.approx(1.0)  # nccl-tests divides by 1.0E9, not 2**30


def test_size_column_is_whole_array_for_gather_scatter_alltoall() -> None:
    assert [size_is_total(c) for c in ("all_gather", "reduce_scatter", "alltoall", "all_reduce", "sendrecv")] == [
        True, True, True, False, False,
    ]  # fmt: skip
    # 1 MiB all_gather over 4 ranks: each rank contributes 256 KiB (65536 floats).
    assert elements_per_rank("all_gather", 2**20, 4, 4) == 65536
    assert elements_per_rank("reduce_scatter", 2**20, 4, 4) == 262144
    assert elements_per_rank("all_reduce", 2**20, 4, 4) == 262144
    assert effective_size("alltoall", 1000, 3, 4) == 996  # whole chunks only


def test_aliases_and_unknown() -> None:
    assert canonical("AllReduce") == "all_reduce"
    assert canonical("reduce-scatter") == "reduce_scatter"
    assert canonical("a2a") == "alltoall"
    with pytest.raises(UsageError) as err:
        canonical("broadcast")
    assert err.value.exit_code == 2


def test_sizes() -> None:
    assert parse_size("4G") == 4 * 2**30
    assert parse_size("256MiB") == 256 * 2**20
    assert size_sweep(2**20, 2**22) == [2**20, 2**21, 2**22]
    assert size_sweep(1000, 3000, 4) == [1000, 3000]
    assert format_size(8 * 2**30) == "8G"
    for bad in ("", "4X", "-1", "0"):
        with pytest.raises(UsageError):
            parse_size(bad)
    with pytest.raises(UsageError):
        size_sweep(4, 2)
