"""TEMPORARY (branch fabrictest only): a ``net`` group holding ``net test``, until the host helper's
aiinfra/cli/net.py lands; the lead replaces this file with that one plus ``add_net_test_subcommand``."""

from __future__ import annotations

import argparse

from aiinfra.cli.net_test import add_net_test_subcommand


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("net", help="host network, operators and the fabric test")
    add_net_test_subcommand(p.add_subparsers(dest="net_command", metavar="SUBCOMMAND", required=True))
