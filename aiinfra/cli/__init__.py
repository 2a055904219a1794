"""The ``aiinfra`` command line.

Each module in this package is one command group and registers itself through
``register(subparsers)``; commands are thin: parse, call the library, print.
Every AiinfraError becomes its message on stderr and its exit code (2 for bad
input); no traceback reaches a user.

Example:
    $ aiinfra validate clusters/a800-ib.yaml
    clusters/a800-ib.yaml: ok (8x A800-SXM4-80GB, 4 rails)
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from aiinfra.errors import AiinfraError


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every command module of this package registered."""
    parser = argparse.ArgumentParser(prog="aiinfra", description="Ray training on GPU + InfiniBand Kubernetes clusters")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AiinfraError as exc:
        print(f"aiinfra: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("aiinfra: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
