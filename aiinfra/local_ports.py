"""Free TCP ports on this host, for the processes aiinfra starts itself (local Ray, the
simulator's components, benchmark and training rendezvous).

Example:
    >>> 1024 < free_port() < 65536
    True
"""

from __future__ import annotations

import socket

from aiinfra.errors import AiinfraError


def free_port(host: str = "127.0.0.1", taken: set[int] | None = None) -> int:
    """A TCP port on ``host`` that nobody listens on now (and not in ``taken``).

    Another process may take it before it is used; callers bind it soon after.

    Example:
        >>> free_port(taken={1}) != 1
        True
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if not taken or port not in taken:
            return port
    raise AiinfraError(f"could not find a free TCP port on {host or 'any address'}")
