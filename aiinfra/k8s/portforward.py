"""A local TCP port that reaches a pod's port through the API server.

What ``kubectl port-forward`` does, built on the official client's
``portforward`` stream, so a notebook outside the cluster can reach the Ray
dashboard of the head pod without kubectl.

Example:
    >>> pf = PortForward(kube, "default", "demo-head-abc12", 8265)  # doctest: +SKIP
    >>> pf.url                                                       # doctest: +SKIP
    'http://127.0.0.1:41234'
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from typing import Any


class PortForward:
    """Listen on 127.0.0.1:<random>; forward each connection to ``pod:port``."""

    def __init__(self, kube: Any, namespace: str, pod: str, port: int) -> None:
        self._kube, self._namespace, self._pod, self._port = kube, namespace, pod, port
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self.local_port = int(self._server.getsockname()[1])
        self._closed = False
        threading.Thread(target=self._accept, name=f"portforward-{pod}", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.local_port}"

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._pump, args=(conn,), daemon=True).start()

    def _pump(self, conn: socket.socket) -> None:
        from kubernetes.stream import portforward

        try:
            stream = portforward(
                self._kube.core.connect_get_namespaced_pod_portforward,
                self._pod,
                self._namespace,
                ports=str(self._port),
            )
            remote = stream.socket(self._port)
        except Exception:  # any failure to open the stream: drop this one connection
            conn.close()
            return
        try:
            while True:
                ready, _, _ = select.select([conn, remote], [], [], 30)
                if not ready:
                    continue
                for src, dst in ((conn, remote), (remote, conn)):
                    if src in ready:
                        data = src.recv(65536)
                        if not data:
                            return
                        dst.sendall(data)
        except OSError:
            return
        finally:
            conn.close()
            with contextlib.suppress(OSError):
                remote.close()
