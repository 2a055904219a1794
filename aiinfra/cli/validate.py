"""``aiinfra validate FILE...``: check cluster definitions."""

from __future__ import annotations

import argparse
import sys

from aiinfra.definition.loader import definition_warnings, load_definition
from aiinfra.errors import DefinitionError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check cluster definitions; exit 2 on the first bad one")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problems = []
    for file in args.files:
        try:
            d = load_definition(file)
        except DefinitionError as exc:
            problems.extend(exc.problems)
            continue
        for warning in definition_warnings(d):
            print(f"warning: {warning}", file=sys.stderr)
        shape = f"{d.gpu.per_node}x {d.gpu.model}, {len(d.rails)} rails" if d.gpu else d.backend
        print(f"{file}: ok ({shape})")
    if problems:
        raise DefinitionError(problems)
    return 0
