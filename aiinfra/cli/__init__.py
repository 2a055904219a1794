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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command module of this package registered, or only the module ``only``.

    Registering one module imports only what that command needs: ``aiinfra net apply`` runs on
    a bare node where the launch layer's imports (and their dependencies) must not load.
    """
    parser = argparse.ArgumentParser(prog="aiinfra", description="Ray training on GPU + InfiniBand Kubernetes clusters")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        if only is None or name == only:
            importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _command_module(argv: Sequence[str]) -> str | None:
    """The module of the command ``argv`` names, when one module by that name exists."""
    first = argv[0] if argv else ""
    names = {m.name for m in pkgutil.iter_modules(__path__)}
    return first if first in names else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=_command_module(argv))
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
