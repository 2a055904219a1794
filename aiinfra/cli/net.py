"""TEMPORARY (netops branch only): a minimal ``aiinfra net`` group to test net_deploy's commands.

The host-network helper owns the real ``aiinfra/cli/net.py``; when merging,
keep theirs and add ``add_net_subcommands(net_subparsers)`` to it.
"""

from __future__ import annotations

import argparse

from aiinfra.cli.net_deploy import add_net_subcommands


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("net", help="host network and NVIDIA operators")
    net = p.add_subparsers(dest="net_command", metavar="NET_COMMAND", required=True)
    add_net_subcommands(net)
