"""``aiinfra net``: the host network (render, apply, verify) and, in other modules, the operators.

Each module of this package adds its subcommands through ``register(net_sub)``,
like the command modules one level up. Modules import their library code
inside the handlers: ``aiinfra net apply`` runs on a bare node (python3 and
PyYAML), so importing this package must not pull pydantic's users, Ray, torch
or the Kubernetes client (tests/net/test_cli_and_imports.py and tests/test_layers.py check it).

Example:
    $ aiinfra net render clusters/a800-ib.yaml -o rendered/
    $ sudo aiinfra net apply --plan rendered/gpu-01.plan.json
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("net", help="host network (netplan bond + rails) and the network operators")
    net_sub = p.add_subparsers(dest="net_command", metavar="SUBCOMMAND", required=True)
    for name in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        importlib.import_module(f"{__name__}.{name}").register(net_sub)
