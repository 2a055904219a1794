"""Which network interfaces an NCCL_SOCKET_IFNAME value selects, by NCCL's own rules.

NCCL reads the value as a comma list of prefixes; a leading ``=`` makes the names exact and a
leading ``^`` excludes them. The node's NCCL environment and the node check both ask here.

Example:
    >>> matching_interfaces("=eth0", ["eth0", "eth01", "net1"]), matching_interfaces("eth", ["eth0", "eth01"])
    (['eth0'], ['eth0', 'eth01'])
"""

from __future__ import annotations

from collections.abc import Iterable


def matching_interfaces(spec: str, interfaces: Iterable[str]) -> list[str]:
    """The interfaces ``spec`` (an NCCL_SOCKET_IFNAME value) selects among ``interfaces``.

    Example:
        >>> matching_interfaces("^docker,lo", ["docker0", "lo", "eth0"])
        ['eth0']
    """
    names = list(interfaces)
    exclude = spec.startswith("^")
    body = spec[1:] if exclude else spec
    exact = body.startswith("=")
    wanted = [n for n in body.lstrip("=").split(",") if n]

    def hit(i: str) -> bool:
        return any(i == w if exact else i.startswith(w) for w in wanted)

    return [i for i in names if hit(i) != exclude]
