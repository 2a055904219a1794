"""The ``aiinfra`` command line.

Each module in this package is one command group and registers itself through
``register(subparsers)``; commands are thin: parse, call the library, print.
Every AiinfraError becomes its message on stderr and its exit code (2 for bad
input, 1 for a failed check or operation). Anything else is a bug in aiinfra:
one line naming it and exit code 70 (EX_SOFTWARE); ``AIINFRA_DEBUG=1`` shows the
traceback. No traceback reaches a user otherwise.

Example:
    $ aiinfra validate clusters/a800-ib.yaml
    clusters/a800-ib.yaml: ok (8x A800-SXM4-80GB, 4 rails)
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import traceback
from collections.abc import Sequence

from aiinfra.errors import AiinfraError

EX_SOFTWARE = 70
"""sysexits.h: an internal software error (a bug in aiinfra, not bad input)."""


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
    """Run one command; returns the process exit code (argparse's own errors exit 2 through SystemExit)."""
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
    except BrokenPipeError:
        # The reader went away (`aiinfra ... | head`); nothing left to tell anyone.
        return 141
    except Exception as exc:  # the last resort: a bug, said in one line
        if os.environ.get("AIINFRA_DEBUG") == "1":
            traceback.print_exc()
        message = " ".join(str(exc).split())[:300]
        print(
            f"aiinfra: internal error: {type(exc).__name__}: {message} (set AIINFRA_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EX_SOFTWARE


if __name__ == "__main__":
    sys.exit(main())
