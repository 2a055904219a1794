"""``aiinfra bench COLLECTIVE``: the bundled NCCL / gloo benchmarks.

Exit codes: 0 every verdict passed, 1 a verdict failed (slow, wrong results),
2 bad input.

Example:
    $ aiinfra bench all_reduce --local --sizes 1K:1M --json out/bench.json --plot out/busbw.png
    $ aiinfra bench all --mode intra --sizes 1M:4G --cluster clusters/h100-ndr.yaml
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys

from aiinfra.bench.spec import MODES
from aiinfra.cli.arguments import output_file, write_file
from aiinfra.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="collective benchmarks (all_reduce, all_gather, reduce_scatter, alltoall, sendrecv) with verdicts",
        description="Run collectives over a size sweep, one process per GPU, and judge busbw against the cluster "
        "definition. Through Ray actors by default; --local runs plain processes on this machine.",
    )
    p.add_argument("collective", metavar="COLLECTIVE",
                   help="all_reduce, all_gather, reduce_scatter, alltoall, sendrecv, a comma list, or 'all'")
    p.add_argument("--local", action="store_true", help="plain torch.multiprocessing processes here, no Ray")
    p.add_argument("--sizes", nargs="+", metavar="SIZE",
                   help="sizes (1M 16M 4G) or a sweep MIN:MAX[:FACTOR] (default 1M:4G on GPUs, 1K:1M on CPU)")
    p.add_argument("--gpus", type=int, help="processes, one per GPU (default: every GPU; 2 on CPU)")
    p.add_argument("--mode", choices=MODES, default="intra",
                   help="intra: each node's NVLink; rail: one GPU per node per rail; job: all GPUs (default intra)")
    p.add_argument("--cluster", metavar="FILE", help="cluster definition giving the expected NVLink and rail rates")
    p.add_argument("--backend", choices=("nccl", "gloo"), help="default: nccl when GPUs are there, else gloo")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16", "float64"))
    p.add_argument("--iters", type=int, default=20, help="timed ops per size (default 20)")
    p.add_argument("--warmup", type=int, default=5, help="untimed ops per size first (default 5)")
    p.add_argument("--no-check", action="store_true", help="skip the correctness check op")
    p.add_argument("--no-in-place", action="store_true",
                   help="measure only nccl-tests' out-of-place column (default: both; all_reduce has only in-place)")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra worker environment")
    p.add_argument("--no-nccl-log", action="store_true", help="do not collect NCCL_DEBUG=INFO for transports")
    p.add_argument(
        "--isolate-gpus",
        action="store_true",
        help="each Ray worker sees only its own GPU (default: all GPUs of its node, like Ray Train)",
    )
    p.add_argument("--address", help="Ray address (default: RAY_ADDRESS, the job's cluster, or a local Ray)")
    p.add_argument("--json", metavar="FILE", type=output_file,
                   help="write every figure, the environment and verdicts as JSON")
    p.add_argument("--plot", metavar="FILE", type=output_file, help="write a PNG of busbw against size")
    p.add_argument("--nccl-log", metavar="FILE", type=output_file, help="write the workers' NCCL INFO log")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds before a hung run is abandoned")
    p.add_argument("--expect", type=float, metavar="GB/s",
                   help="busbw every group must reach (judged at every size); needed for a verdict on CPU/gloo")
    p.set_defaults(func=run)


def sizes_from_args(values: list[str] | None) -> tuple[int, ...]:
    """Sizes from ``--sizes``: a list, or MIN:MAX[:FACTOR] sweeps; () means the backend's default.

    Example:
        >>> sizes_from_args(["1M:4M"]), sizes_from_args(["1K", "2K"])
        ((1048576, 2097152, 4194304), (1024, 2048))
    """
    from aiinfra.bench.bandwidth import parse_size, size_sweep

    out: list[int] = []
    for value in values or []:
        for item in value.split(","):
            if ":" in item:
                parts = item.split(":")
                if len(parts) not in (2, 3):
                    raise UsageError(f"bad sweep {item!r}: use MIN:MAX or MIN:MAX:FACTOR")
                if len(parts) == 3 and not re.fullmatch(r"[0-9]{1,4}", parts[2]):
                    raise UsageError(f"bad sweep factor in {item!r}: a whole number, e.g. 2")
                factor = int(parts[2]) if len(parts) == 3 else 2
                out.extend(size_sweep(parse_size(parts[0]), parse_size(parts[1]), factor))
            elif item:
                out.append(parse_size(item))
    return tuple(sorted(set(out)))


def collectives_from_arg(value: str) -> tuple[str, ...]:
    """Canonical collective names from the positional argument.

    Example:
        >>> collectives_from_arg("allreduce,allgather")
        ('all_reduce', 'all_gather')
    """
    from aiinfra.bench.bandwidth import COLLECTIVES, canonical

    if value.strip().lower() == "all":
        return COLLECTIVES
    names = tuple(dict.fromkeys(canonical(v) for v in value.split(",") if v.strip()))
    if not names:
        raise UsageError(f"no collective in {value!r}: name one of {', '.join(COLLECTIVES)}, or 'all'")
    return names


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse values no run can use, before anything is imported or started.

    Example:
        >>> check_arguments(argparse.Namespace(gpus=None, local=True, mode="intra", iters=5, warmup=1,
        ...                                    timeout=-5.0, expect=None))
        Traceback (most recent call last):
        ...
        aiinfra.errors.UsageError: --timeout must be a positive number of seconds
    """
    if args.gpus is not None and not 1 <= args.gpus <= 4096:
        raise UsageError("--gpus must be between 1 and 4096")
    if args.local and args.mode == "rail":
        raise UsageError("--mode rail needs GPUs on several nodes: run it through Ray (without --local)")
    if not 1 <= args.iters <= 1_000_000 or not 0 <= args.warmup <= 1_000_000:
        raise UsageError("--iters must be 1..1000000 and --warmup 0..1000000")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError("--timeout must be a positive number of seconds")
    if args.expect is not None and not (math.isfinite(args.expect) and args.expect > 0):
        raise UsageError("--expect must be a positive bandwidth in GB/s")


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    sizes, collectives = sizes_from_args(args.sizes), collectives_from_arg(args.collective)
    try:
        import torch  # noqa: F401  (the workers need it; say so before anything starts)
    except ImportError:
        raise UsageError("aiinfra bench needs torch: install the train extra: pip install 'aiinfra[train]'") from None
    from aiinfra.bench.config import BenchConfig
    from aiinfra.bench.report import format_table, to_json, write_plot
    from aiinfra.bench.runner import run_local, run_ray
    from aiinfra.bench.spec import MeasureSpec
    from aiinfra.definition.loader import load_definition

    env = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"bad --env {item!r}: use NAME=VALUE")
        env[name] = value
    spec = MeasureSpec(collectives, sizes, args.dtype, args.warmup, args.iters, not args.no_check,
                       in_place=not args.no_in_place)
    definition = load_definition(args.cluster) if args.cluster else None
    config = BenchConfig(
        spec,
        args.mode,
        args.gpus,
        args.backend,
        definition,
        env,
        not args.no_nccl_log,
        args.timeout,
        share_gpus=not args.isolate_gpus,
        expect_gb_s=args.expect,
    )
    result = run_local(config) if args.local else run_ray(config, args.address)
    print(format_table(result))
    if args.json:
        print(f"# JSON: {write_file(args.json, json.dumps(to_json(result), indent=2) + chr(10), '--json')}")
    if args.plot:
        try:
            print(f"# plot: {write_plot(result, args.plot)}")
        except OSError as exc:
            raise UsageError(f"--plot {args.plot}: cannot write there ({exc.strerror or exc})") from None
    if args.nccl_log and result.nccl_log:
        print(f"# NCCL log: {write_file(args.nccl_log, result.nccl_log, '--nccl-log')}")
    sys.stdout.flush()
    return 1 if result.failed else 0
