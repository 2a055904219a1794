"""A minimal HTTPS client for the simulated kube-apiserver (stdlib only).

The simulator needs a handful of calls before and while the cluster comes up
(``/readyz``, server-side apply of CRDs, creating Nodes) and must not depend
on the apiserver being ready for a full client; everything else in aiinfra
talks to the cluster with the official ``kubernetes`` client through the
kubeconfig the simulator writes.

Example:
    >>> api = Rest("https://127.0.0.1:6443", pki)     # doctest: +SKIP
    >>> api.ready()                                   # doctest: +SKIP
    True
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import urllib.parse
from typing import Any

from aiinfra.errors import AiinfraError
from aiinfra.sim.pki import Pki

APPLY = "application/apply-patch+yaml"
FIELD_MANAGER = "aiinfra-sim"


class ApiError(AiinfraError):
    """A non-2xx answer of the apiserver."""

    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        self.status = status
        try:
            message = json.loads(body).get("message", body)
        except (ValueError, AttributeError):
            message = body
        super().__init__(f"{method} {path}: HTTP {status}: {message[:2000]}")


class Rest:
    """Calls against one apiserver with the admin client certificate."""

    def __init__(self, server: str, pki: Pki, timeout: float = 30.0) -> None:
        url = urllib.parse.urlsplit(server)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 443
        self.timeout = timeout
        ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
        ctx.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
        self._ctx = ctx
        self._local = threading.local()  # one kept-alive connection per thread: http.client is not thread safe

    def _connection(self) -> http.client.HTTPSConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self._ctx, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json", ok_missing: bool = False
    ) -> Any:
        """One call; returns decoded JSON (or text). A 404 returns None when ``ok_missing``."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                text = resp.read().decode("utf-8", errors="replace")
                break
            except (http.client.HTTPException, OSError):
                self.close()  # a kept-alive connection the server dropped: retry once on a new one
                if attempt == 2:
                    raise
        if resp.status == 404 and ok_missing:
            return None
        if resp.status >= 300:
            raise ApiError(resp.status, method, path, text)
        if resp.getheader("Content-Type", "").startswith("application/json"):
            return json.loads(text)
        return text

    def ready(self) -> bool:
        """True when ``/readyz`` answers ok."""
        try:
            return self.request("GET", "/readyz") == "ok"
        except (ApiError, OSError, http.client.HTTPException):
            self.close()
            return False

    def apply(self, path: str, obj: dict, dry_run: bool = False) -> dict:
        """Server-side apply ``obj`` at ``path`` (the object's own URL), forcing ownership."""
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        if dry_run:
            query["dryRun"] = "All"
        return self.request("PATCH", f"{path}?{urllib.parse.urlencode(query)}", json.dumps(obj).encode(), APPLY)

    def get(self, path: str) -> Any:
        return self.request("GET", path, ok_missing=True)

    def create(self, path: str, obj: dict) -> Any:
        """POST ``obj`` to a collection; an existing object (409) is left as it is."""
        try:
            return self.request("POST", path, obj)
        except ApiError as exc:
            if exc.status == 409:
                return None
            raise
