"""The ``ray.storage`` section: storage every Ray pod shares, for Ray Train checkpoints and results.

Ray Train writes each checkpoint from the worker that made it and reads it back from wherever the
restarted worker lands, so on more than one machine ``RunConfig(storage_path=...)`` must be storage
all of them see. A definition names exactly one of: a PersistentVolumeClaim (``pvc``, ReadWriteMany),
an NFS export (``nfs``), both mounted at ``mount_path`` in the head and every worker, or an object
store ``uri`` that Ray reaches itself (``s3://``, ``gs://``, ...; credentials are the image's concern).

Example:
    >>> Storage.model_validate({"nfs": {"server": "nfs.lab", "path": "/export/ray"}}).storage_path
    '/mnt/ray-storage'
    >>> Storage.model_validate({"uri": "s3://ckpt/runs"}).storage_path
    's3://ckpt/runs'
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

OBJECT_STORE_SCHEMES = ("s3", "gs", "gcs", "abfs", "abfss", "hdfs")
"""URI schemes Ray Train's storage (pyarrow.fs / fsspec) reaches from every node; file:// is not shared."""
DEFAULT_MOUNT = "/mnt/ray-storage"
_HOST = r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$"
_CLAIM = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


def _absolute(path: str) -> str:
    if not path.startswith("/") or re.search(r"\s", path):
        raise ValueError("expected an absolute path without spaces, e.g. '/mnt/ray-storage'")
    return path


def _object_store(uri: str) -> str:
    if not re.fullmatch(rf"({'|'.join(OBJECT_STORE_SCHEMES)})://[^/\s]+(/\S*)?", uri):
        schemes = ", ".join(f"{s}://" for s in OBJECT_STORE_SCHEMES)
        raise ValueError(
            f"expected an object store URI ({schemes} then bucket[/prefix]); "
            "a path on the pods' own disks is not shared: use pvc or nfs"
        )
    return uri


AbsolutePath = Annotated[str, AfterValidator(_absolute)]


class _Strict(BaseModel):
    # As model.Strict (which this module cannot import: model imports it).
    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, strict=True, allow_inf_nan=False
    )


class NfsExport(_Strict):
    """An NFS export every node can mount."""

    server: Annotated[str, Field(pattern=_HOST)]
    """NFS server host name or IPv4 address."""
    path: AbsolutePath
    """Exported path on the server, e.g. '/export/ray'."""


class Storage(_Strict):
    """Shared storage for Ray Train checkpoints: one of pvc, nfs or uri."""

    pvc: Annotated[str | None, Field(pattern=_CLAIM)] = None
    """PersistentVolumeClaim (ReadWriteMany, in the cluster's namespace) mounted at mount_path in every pod."""
    nfs: NfsExport | None = None
    """NFS export mounted at mount_path in every pod."""
    uri: Annotated[str, AfterValidator(_object_store)] | None = None
    """Object store URI Ray Train writes to directly, e.g. 's3://bucket/prefix' (no mount)."""
    mount_path: AbsolutePath = DEFAULT_MOUNT
    """Where pvc or nfs is mounted in the head and worker pods; Ray Train's storage_path."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Storage:
        given = [k for k in ("pvc", "nfs", "uri") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"set exactly one of pvc, nfs or uri (got {', '.join(given) or 'none'})")
        # The default is allowed back: a rendered definition (AIINFRA_DEFINITION) carries every field.
        if self.uri is not None and "mount_path" in self.model_fields_set and self.mount_path != DEFAULT_MOUNT:
            raise ValueError("mount_path applies to pvc and nfs; an object store uri is not mounted")
        if self.mount_path.rstrip("/") in ("", "/tmp", "/dev/shm", "/etc/aiinfra/topology"):
            raise ValueError(f"mount_path '{self.mount_path}' would cover a path the pods need")
        return self

    @property
    def mounted(self) -> bool:
        """True for a PVC or NFS volume (mounted in the pods), False for an object store."""
        return self.uri is None

    @property
    def storage_path(self) -> str:
        """What Ray Train's RunConfig(storage_path=...) gets: the mount path, or the object store URI."""
        return self.uri if self.uri is not None else self.mount_path
