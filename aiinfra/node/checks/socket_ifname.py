"""The bootstrap interface check: NCCL_SOCKET_IFNAME must select an interface the node has.

Example:
    >>> from aiinfra.node.discovery import NodeInventory
    >>> check_socket_ifname(NodeInventory("/", (), (), {}, None, ("eth0",)), None)
    []
"""

from __future__ import annotations

from collections.abc import Mapping

from aiinfra.definition.model import ClusterDefinition
from aiinfra.findings import Finding
from aiinfra.node.checks import node_check
from aiinfra.node.discovery import NodeInventory
from aiinfra.node.interfaces import matching_interfaces


@node_check("socket-ifname", order=40)
def _registered(inv: NodeInventory, d: ClusterDefinition | None, environ: Mapping[str, str]) -> list[Finding]:
    return check_socket_ifname(inv, d)


def check_socket_ifname(inv: NodeInventory, d: ClusterDefinition | None) -> list[Finding]:
    """A warning when NCCL_SOCKET_IFNAME names an interface the node does not have.

    Example:
        >>> check_socket_ifname(NodeInventory("/", (), (), {}, None, ("eth0",)), None)
        []
    """
    ifname = d.network.socket_ifname if d is not None else "eth0"
    if not inv.net_interfaces or matching_interfaces(f"={ifname}", inv.net_interfaces):
        return []
    return [
        Finding(
            "socket-ifname-missing",
            "warning",
            ifname,
            f"NCCL_SOCKET_IFNAME={ifname} but the node has {', '.join(inv.net_interfaces)}",
            "set network.socket_ifname to the interface bootstrap traffic should use",
        )
    ]
