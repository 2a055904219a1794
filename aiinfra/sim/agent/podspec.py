"""From a Pod object to the sandbox's plan: environment, command, volumes and probes, as the kubelet resolves them.

The container image cannot run here, so a container's command runs with the local Python
environment: ``ray`` and ``python`` resolve to the agent's own interpreter's ``bin`` folder (also
inside ``bash -lc`` scripts, whose login profile resets PATH), and ``AIINFRA_FAKE_GPUS=1`` tells
aiinfra.train that the GPUs Ray holds are not real. A Secret or ConfigMap that an env reference
needs and that does not exist raises :class:`ConfigError`, which the agent reports as the kubelet's
``CreateContainerConfigError`` and retries.

Example:
    >>> pod = {"metadata": {"name": "p", "namespace": "n", "labels": {"a": "b"}}, "spec": {"nodeName": "x"},
    ...        "status": {"podIP": "10.245.0.2"}}
    >>> c = {"env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['a']"}}},
    ...              {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}
    >>> resolve_env(pod, c, lambda kind, ns, name: None)
    {'N': 'b', 'IP': '10.245.0.2'}
"""

from __future__ import annotations

import base64
import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiinfra.errors import AiinfraError
from aiinfra.sim.agent.probes import probe_plan

Lookup = Callable[[str, str, str], "dict[str, Any] | None"]
"""(kind 'secrets' or 'configmaps', namespace, name) -> the object or None."""
BIN = os.path.dirname(os.path.realpath(sys.executable))
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class ConfigError(AiinfraError):
    """A container's configuration cannot be resolved yet (the kubelet's CreateContainerConfigError)."""


def field_ref(pod: dict[str, Any], path: str) -> str:
    meta, spec, status = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    simple = {
        "metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"), "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"), "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"), "status.hostIP": status.get("hostIP"),
    }  # fmt: skip
    if path not in simple:
        raise ConfigError(f"fieldRef {path} is not supported by process-backed nodes")
    return str(simple[path] or "")


_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
           "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}  # fmt: skip


def quantity(value: str) -> float:
    """A Kubernetes resource quantity as a number (the agent stays free of the kubernetes client).

    Example:
        >>> quantity("1Gi"), quantity("500m"), quantity("2")
        (1073741824.0, 0.5, 2.0)
    """
    text = str(value).strip()
    for suffix in sorted(_SUFFIX, key=len, reverse=True):
        if text.endswith(suffix) and text[: -len(suffix)]:
            return float(text[: -len(suffix)]) * _SUFFIX[suffix]
    return float(text)


def resource_ref(container: dict[str, Any], ref: dict[str, Any]) -> str:
    kind, _, name = ref["resource"].partition(".")
    res = (container.get("resources") or {}).get(kind) or {}
    if name not in res:
        return "0"
    divisor = quantity(str(ref.get("divisor") or "1")) or 1.0  # the API defaults an absent divisor to "0"
    return str(math.ceil(quantity(str(res[name])) / divisor))  # the kubelet rounds up


def _key(lookup: Lookup, kind: str, ns: str, ref: dict[str, Any]) -> str | None:
    obj = lookup(kind, ns, ref["name"])
    what = "secret" if kind == "secrets" else "configmap"
    if obj is None:
        if ref.get("optional"):
            return None
        raise ConfigError(f'{what} "{ref["name"]}" not found')
    data = obj.get("data") or {}
    if ref["key"] not in data:
        if ref.get("optional"):
            return None
        raise ConfigError(f'couldn\'t find key {ref["key"]} in {what} {ns}/{ref["name"]}')
    raw = data[ref["key"]]
    return base64.b64decode(raw).decode() if kind == "secrets" else str(raw)


def resolve_env(pod: dict[str, Any], container: dict[str, Any], lookup: Lookup) -> dict[str, str]:
    """envFrom then env of one container, with $(VAR) references expanded in order."""
    ns = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for src in container.get("envFrom") or []:
        kind, ref = ("secrets", src["secretRef"]) if "secretRef" in src else ("configmaps", src.get("configMapRef"))
        if not ref:
            continue
        obj = lookup(kind, ns, ref["name"])
        if obj is None:
            if ref.get("optional"):
                continue
            raise ConfigError(f'{"secret" if kind == "secrets" else "configmap"} "{ref["name"]}" not found')
        for k, v in (obj.get("data") or {}).items():
            env[src.get("prefix", "") + k] = base64.b64decode(v).decode() if kind == "secrets" else str(v)
    for e in container.get("env") or []:
        if "valueFrom" not in e:
            env[e["name"]] = expand(e.get("value", ""), env)
            continue
        vf = e["valueFrom"]
        if "fieldRef" in vf:
            env[e["name"]] = field_ref(pod, vf["fieldRef"]["fieldPath"])
        elif "resourceFieldRef" in vf:
            env[e["name"]] = resource_ref(container, vf["resourceFieldRef"])
        elif "secretKeyRef" in vf or "configMapKeyRef" in vf:
            if "secretKeyRef" in vf:
                value = _key(lookup, "secrets", ns, vf["secretKeyRef"])
            else:
                value = _key(lookup, "configmaps", ns, vf["configMapKeyRef"])
            if value is not None:
                env[e["name"]] = value
    return env


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: known names are replaced, unknown ones stay as written."""
    return _VAR.sub(lambda m: env.get(m.group(1), m.group(0)), text)


def local_argv(container: dict[str, Any], env: dict[str, str]) -> list[str]:
    """The container's command + args, run with the local Python environment instead of the image's."""
    argv = [expand(a, env) for a in [*(container.get("command") or []), *(container.get("args") or [])]]
    if not argv:
        raise ConfigError(f"container {container['name']}: no command; the image's entrypoint cannot run here")
    tool = os.path.basename(argv[0])
    if tool in ("ray", "python", "python3"):
        argv[0] = os.path.join(BIN, tool)
    elif tool in ("bash", "sh"):
        for i, a in enumerate(argv[1:-1], start=1):
            if a.startswith("-") and "c" in a:  # -c, -lc, -ec: the next argument (after an optional --) is the script
                j = i + 2 if argv[i + 1] == "--" and i + 2 < len(argv) else i + 1
                argv[j] = f'export PATH="{BIN}:$PATH"; ' + argv[j]
                break
    return argv


def base_env(pod: dict[str, Any]) -> dict[str, str]:
    """What every container starts with (before the pod's own env)."""
    env = {
        "PATH": f"{BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "HOSTNAME": pod["metadata"]["name"],
        "LANG": "C.UTF-8",
        "AIINFRA_FAKE_GPUS": "1",
        # gRPC's own (c-ares) resolver does not read /etc/hosts, where the agent puts Service names.
        "GRPC_DNS_RESOLVER": "native",
        # Every pod of the simulator shares this machine's few cores with the control plane: give Ray's
        # dashboard modules more than their default 30 s to start.
        "RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT": "300",
        # ...and its worker processes more than 60 s to register: on a loaded machine importing Ray alone can
        # take longer, and the raylet would kill each slow worker and start another, forever.
        "RAY_worker_register_timeout_seconds": "600",
    }
    if os.environ.get("PYTHONPATH"):  # the agent's aiinfra (a source checkout) is the one the pod sees
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def container_plan(pod: dict[str, Any], c: dict[str, Any], lookup: Lookup, log_dir: Path) -> dict[str, Any]:
    env = base_env(pod)
    env.update(resolve_env(pod, c, lookup))
    ports = {p["name"]: int(p["containerPort"]) for p in c.get("ports") or [] if p.get("name")}
    return {
        "name": c["name"],
        "argv": local_argv(c, env),
        "env": env,
        "workdir": c.get("workingDir") or "",
        "log": str(log_dir / f"{c['name']}.log"),
        "readiness": probe_plan(c.get("readinessProbe"), ports),
        "liveness": probe_plan(c.get("livenessProbe"), ports),
    }
