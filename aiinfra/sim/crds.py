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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from aiinfra.errors import AiinfraError
from aiinfra.sim.rest import ApiError, Rest

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses the big CRDs ~5x faster
# Answers of an apiserver too busy to finish a request (a loaded 2-core machine storing the
# 1 MB KubeRay CRDs gives 504): the apply is idempotent, so it is tried again.
_BUSY = (429, 500, 503, 504)


def crd_documents(files: list[Path]) -> list[dict]:
    """Every CustomResourceDefinition document in ``files``."""
    docs: list[dict] = []
    for file in files:
        try:
            loaded = list(yaml.load_all(file.read_text(encoding="utf-8"), Loader=_LOADER))
        except (OSError, yaml.YAMLError) as exc:
            raise AiinfraError(f"cannot read CRD file {file}: {exc}") from None
        docs.extend(d for d in loaded if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition")
    return docs


def install_crds(api: Rest, docs: list[dict], timeout: float = 60.0) -> list[str]:
    """Apply every CRD document (4 at a time) and wait until all are Established; returns their names."""
    for doc in docs:
        doc.get("metadata", {}).pop("creationTimestamp", None)
        doc.pop("status", None)
    names = [doc["metadata"]["name"] for doc in docs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda doc: apply_when_busy(api, f"{CRD_PATH}/{doc['metadata']['name']}", doc), docs))
    wait_established(api, names, timeout)
    return names


def apply_when_busy(api: Rest, path: str, doc: dict, attempts: int = 5, pause_s: float = 2.0) -> dict:
    """Server-side apply ``doc``, again after a pause while the apiserver answers that it is busy.

    Example:
        >>> class Busy:
        ...     calls = 0
        ...     def apply(self, path, doc):
        ...         Busy.calls += 1
        ...         if Busy.calls < 3:
        ...             raise ApiError(504, "PATCH", path, '{"message": "Timeout"}')
        ...         return doc
        >>> apply_when_busy(Busy(), "/x", {"a": 1}, pause_s=0)
        {'a': 1}
        >>> Busy.calls
        3
    """
    for attempt in range(1, attempts + 1):
        try:
            return api.apply(path, doc)
        except ApiError as err:
            if err.status not in _BUSY or attempt == attempts:
                raise
            time.sleep(pause_s * attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


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
