"""Pod volumes on a process-backed node: ConfigMap, Secret, emptyDir, hostPath, and NFS and PVC simulated.

ConfigMap and Secret volumes are written as files under the pod's folder and bound at their mount
path; the agent writes them again on every sync, so a ConfigMap created after the pod started (an
``optional`` one, like aiinfra's topology map) appears in the running pod, as with the kubelet.
emptyDir with ``medium: Memory`` is a tmpfs of its sizeLimit (``/dev/shm``); other emptyDirs are
folders. hostPath ``/sys`` and ``/proc`` (and paths below them) map to the node's generated tree so
discovery inside the pod sees the node's simulated hardware; other host paths are bound as they are.
NFS and PersistentVolumeClaim volumes are simulated: each export (server and path) or claim (namespace
and name) is one folder under the simulator's state folder, shared by every pod of every process node, so
what one pod writes the others read, as on shared storage; no NFS client or server runs, and claims are not
provisioned, bound or size-limited (the scheduler still wants the claim to exist and be bound).
Projected (service-account token), downwardAPI, CSI and other volume types are not simulated.

Example:
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> pod = {"metadata": {"namespace": "n"}, "spec": {"volumes": [{"name": "shm", "emptyDir": {"medium": "Memory",
    ...        "sizeLimit": "1Gi"}}], "containers": [{"volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}]}]}}
    >>> mounts(pod, d, lambda *a: None, None)
    [{'kind': 'tmpfs', 'target': '/dev/shm', 'size': '1073741824'}]
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from aiinfra.sim.agent.podspec import ConfigError, Lookup, quantity


def _write_files(folder: Path, data: dict[str, bytes], items: list[dict[str, Any]] | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {i["key"]: i["path"] for i in items} if items else {k: k for k in data}
    for key, rel in wanted.items():
        if key not in data:
            continue
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data[key]:
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(data[key])
            os.replace(tmp, target)
    for old in folder.iterdir():
        if old.is_file() and old.name not in {Path(p).parts[0] for p in wanted.values() if p} and old.name[0] != ".":
            old.unlink()


def _object_volume(vol: dict[str, Any], ns: str, folder: Path, lookup: Lookup) -> None:
    kind, src = ("secrets", vol["secret"]) if "secret" in vol else ("configmaps", vol["configMap"])
    name = src.get("secretName") if kind == "secrets" else src.get("name")
    obj = lookup(kind, ns, str(name))
    if obj is None:
        if not src.get("optional"):
            raise ConfigError(f'{"secret" if kind == "secrets" else "configmap"} "{name}" not found (FailedMount)')
        data: dict[str, bytes] = {}
    elif kind == "secrets":
        data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    else:
        data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    _write_files(folder, data, src.get("items"))


def host_source(path: str, node_tree: Path | None) -> str:
    """Where a hostPath comes from on a process node: /sys and /proc from the node's generated tree.

    Example:
        >>> host_source("/sys/class/infiniband", Path("/s/node-0"))
        '/s/node-0/sys/class/infiniband'
    """
    clean = os.path.normpath(path)
    for root in ("/sys", "/proc"):
        if node_tree is not None and (clean == root or clean.startswith(root + "/")):
            return str(node_tree) + clean
    return clean


def shared_source(vol: dict[str, Any], ns: str, shared: Path) -> Path | None:
    """The simulator's folder standing in for an NFS export or a PVC (None for other volume types).

    Example:
        >>> str(shared_source({"nfs": {"server": "nfs.lab", "path": "/export/ray"}}, "default", Path("/s")))
        '/s/nfs/nfs.lab/export/ray'
        >>> str(shared_source({"persistentVolumeClaim": {"claimName": "ckpt"}}, "default", Path("/s")))
        '/s/pvc/default/ckpt'
    """
    if "nfs" in vol:
        rel = os.path.normpath("/" + str(vol["nfs"].get("path") or "/")).lstrip("/")
        return shared / "nfs" / str(vol["nfs"]["server"]) / rel
    if "persistentVolumeClaim" in vol:
        return shared / "pvc" / ns / str(vol["persistentVolumeClaim"]["claimName"])
    return None


def refresh(pod: dict[str, Any], pod_dir: Path, lookup: Lookup) -> None:
    """(Re)write the ConfigMap and Secret volumes of the pod under ``pod_dir/volumes``."""
    ns = pod["metadata"]["namespace"]
    for vol in pod["spec"].get("volumes") or []:
        if "configMap" in vol or "secret" in vol:
            _object_volume(vol, ns, pod_dir / "volumes" / vol["name"], lookup)


def mounts(
    pod: dict[str, Any], pod_dir: Path, lookup: Lookup, node_tree: Path | None, shared: Path | None = None
) -> list[dict[str, Any]]:
    """The sandbox's mount list: every volumeMount of every container (one mount namespace per pod).

    ``shared`` is the simulator's folder for NFS and PVC volumes (without it they are not mounted).
    """
    refresh(pod, pod_dir, lookup)
    volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for c in [*(pod["spec"].get("initContainers") or []), *pod["spec"]["containers"]]:
        for vm in c.get("volumeMounts") or []:
            vol = volumes.get(vm["name"])
            if vol is None or vm["mountPath"] in seen:
                continue
            seen.add(vm["mountPath"])
            m: dict[str, Any] = {"kind": "bind", "target": vm["mountPath"], "readonly": bool(vm.get("readOnly"))}
            if "emptyDir" in vol and (vol["emptyDir"] or {}).get("medium") == "Memory":
                limit = (vol["emptyDir"] or {}).get("sizeLimit")
                size = str(int(quantity(limit))) if limit else ""
                m = {"kind": "tmpfs", "target": vm["mountPath"], "size": size}
            elif "emptyDir" in vol:
                m["source"] = str(pod_dir / "volumes" / vm["name"])
                Path(m["source"]).mkdir(parents=True, exist_ok=True)
            elif "configMap" in vol or "secret" in vol:
                m["source"] = str(pod_dir / "volumes" / vm["name"])
                m["readonly"] = True
            elif "hostPath" in vol:
                m["source"] = host_source(vol["hostPath"]["path"], node_tree)
            elif shared is not None and (folder := shared_source(vol, pod["metadata"]["namespace"], shared)):
                folder.mkdir(parents=True, exist_ok=True)
                m["source"] = str(folder)
                m["readonly"] = m["readonly"] or bool((vol.get("persistentVolumeClaim") or vol.get("nfs") or {})
                                                      .get("readOnly"))  # fmt: skip
            else:
                continue  # projected, downwardAPI, CSI: not simulated
            if vm.get("subPath") and "source" in m:
                m["source"] = os.path.join(m["source"], vm["subPath"])
            out.append(m)
    return out
