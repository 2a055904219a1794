"""Install CustomResourceDefinitions into the simulated cluster by server-side apply.

Server-side apply has no last-applied annotation, so large CRDs (the
prometheus-operator ones exceed kubectl's 256 KiB limit) apply fine.

Example:
    >>> from aiinfra.sim.crds import crd_documents
    >>> docs = crd_documents([])
    >>> docs
    []
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from aiinfra.errors import AiinfraError
from aiinfra.sim.rest import Rest

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def crd_documents(files: list[Path]) -> list[dict]:
    """Every CustomResourceDefinition document in ``files``."""
    docs: list[dict] = []
    for file in files:
        try:
            loaded = list(yaml.safe_load_all(file.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError) as exc:
            raise AiinfraError(f"cannot read CRD file {file}: {exc}") from None
        docs.extend(d for d in loaded if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition")
    return docs


def install_crds(api: Rest, files: list[Path], timeout: float = 60.0) -> list[str]:
    """Apply every CRD in ``files`` and wait until all are Established; returns their names."""
    names = []
    for doc in crd_documents(files):
        doc.get("metadata", {}).pop("creationTimestamp", None)
        doc.pop("status", None)
        name = doc["metadata"]["name"]
        api.apply(f"{CRD_PATH}/{name}", doc)
        names.append(name)
    wait_established(api, names, timeout)
    return names


def wait_established(api: Rest, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(names)
    while pending:
        still = []
        for name in pending:
            crd = api.get(f"{CRD_PATH}/{name}") or {}
            conds = crd.get("status", {}).get("conditions", []) or []
            if not any(c.get("type") == "Established" and c.get("status") == "True" for c in conds):
                still.append(name)
        pending = still
        if pending and time.monotonic() > deadline:
            raise AiinfraError(f"CRDs not Established after {timeout:.0f}s: {', '.join(pending)}")
        if pending:
            time.sleep(0.2)
