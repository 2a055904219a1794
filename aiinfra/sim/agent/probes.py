"""Container probes of process-backed pods: exec, httpGet and tcpSocket, as the kubelet runs them.

A probe runs inside the pod's namespaces (the sandbox calls it), so ``localhost`` is the pod's own
loopback, as KubeRay's injected probes expect. A probe passes when the command exits 0, the HTTP
status is 200-399, or the TCP connection opens, within ``timeoutSeconds``.

Example:
    >>> p = Probe.from_plan({"tcp": {"port": 1}, "timeoutSeconds": 1})
    >>> p.check({})
    False
"""

from __future__ import annotations

import http.client
import socket
import subprocess
from dataclasses import dataclass
from typing import Any


@dataclass
class Probe:
    """One probe with the kubelet's timing fields (defaults as in the Kubernetes API)."""

    action: dict[str, Any]
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    failure_threshold: int = 3
    success_threshold: int = 1

    @classmethod
    def from_plan(cls, plan: dict[str, Any]) -> Probe:
        return cls(
            {k: plan[k] for k in ("exec", "http", "tcp") if k in plan},
            float(plan.get("initialDelaySeconds", 0)),
            float(plan.get("periodSeconds", 10)),
            float(plan.get("timeoutSeconds", 1)),
            int(plan.get("failureThreshold", 3)),
            int(plan.get("successThreshold", 1)),
        )

    def check(self, env: dict[str, str]) -> bool:
        """Run the probe once."""
        try:
            if "exec" in self.action:
                done = subprocess.run(
                    self.action["exec"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    timeout=self.timeout, start_new_session=True,
                )
                return done.returncode == 0
            if "http" in self.action:
                h = self.action["http"]
                cls = http.client.HTTPSConnection if h.get("scheme") == "HTTPS" else http.client.HTTPConnection
                conn = cls(h.get("host") or "127.0.0.1", int(h["port"]), timeout=self.timeout)
                try:
                    conn.request("GET", h.get("path") or "/", headers=h.get("headers") or {})
                    return 200 <= conn.getresponse().status < 400
                finally:
                    conn.close()
            if "tcp" in self.action:
                t = self.action["tcp"]
                with socket.create_connection((t.get("host") or "127.0.0.1", int(t["port"])), timeout=self.timeout):
                    return True
        except (OSError, subprocess.SubprocessError, http.client.HTTPException):
            return False
        return False


def probe_plan(probe: dict[str, Any] | None, ports: dict[str, int]) -> dict[str, Any] | None:
    """A pod-spec probe as the sandbox's plan carries it (named ports resolved), or None.

    Example:
        >>> probe_plan({"httpGet": {"port": "dash", "path": "/x"}, "periodSeconds": 5}, {"dash": 8265})["http"]
        {'port': 8265, 'path': '/x', 'host': '', 'scheme': 'HTTP', 'headers': {}}
    """
    if not probe:
        return None
    out: dict[str, Any] = {k: v for k, v in probe.items() if k.endswith(("Seconds", "Threshold"))}

    def port(value: Any) -> int:
        return int(ports.get(value, 0)) if isinstance(value, str) and not value.isdigit() else int(value)

    if "exec" in probe:
        out["exec"] = list(probe["exec"].get("command") or [])
    elif "httpGet" in probe:
        h = probe["httpGet"]
        headers = {x["name"]: x["value"] for x in h.get("httpHeaders") or []}
        out["http"] = {"port": port(h["port"]), "path": h.get("path", "/"), "host": h.get("host", ""),
                       "scheme": h.get("scheme", "HTTP"), "headers": headers}  # fmt: skip
    elif "tcpSocket" in probe:
        out["tcp"] = {"port": port(probe["tcpSocket"]["port"]), "host": probe["tcpSocket"].get("host", "")}
    else:
        return None  # grpc probes: not simulated
    return out
