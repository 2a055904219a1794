"""The parts of a RayCluster pod that carry the definition's shared storage (``ray.storage``).

Head and workers get the same three things: the volume (a PVC or an NFS export; nothing for an
object store URI), its mount, and ``AIINFRA_STORAGE_PATH``, the path Ray Train's ``storage_path``
takes (``aiinfra.train.fit`` reads it; a plain Ray Train script can too). The head needs it as much
as the workers: Ray Train's controller, next to the job driver, keeps the run's checkpoint index there.

Example:
    >>> from aiinfra.definition import load_definition
    >>> parts = storage_parts(load_definition("clusters/a800-ib.yaml").ray)
    >>> parts.env[0]["name"], parts.mounts[0]["mountPath"]
    ('AIINFRA_STORAGE_PATH', '/mnt/ray-storage')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiinfra.contract import STORAGE_PATH_ENV
from aiinfra.definition.model import Ray

VOLUME = "aiinfra-storage"


@dataclass(frozen=True)
class StorageParts:
    """What one pod template adds for the shared storage (all empty without ``ray.storage``)."""

    env: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)


def storage_parts(ray: Ray | None) -> StorageParts:
    """The env entry, volume and mount for ``ray.storage``, the same on head and workers."""
    s = ray.storage if ray is not None else None
    if s is None:
        return StorageParts()
    env = [{"name": STORAGE_PATH_ENV, "value": s.storage_path}]
    if s.pvc is not None:
        source: dict[str, Any] = {"persistentVolumeClaim": {"claimName": s.pvc}}
    elif s.nfs is not None:
        source = {"nfs": {"server": s.nfs.server, "path": s.nfs.path}}
    else:
        return StorageParts(env=env)  # an object store: Ray Train writes to it directly
    return StorageParts(env, [{"name": VOLUME, **source}], [{"name": VOLUME, "mountPath": s.mount_path}])
