"""What a worker process runs: Python, Ray, torch, CUDA and NCCL versions.

Collected inside each benchmark actor and each Ray Train worker before any
process group starts, so :func:`aiinfra.definition.versions.runtime_mismatch`
can refuse a job whose workers could not talk to each other (a torch or NCCL
that differs across ranks fails or hangs inside the first collective, far from
its cause).

Example:
    >>> sorted(runtime_versions())  # doctest: +SKIP
    ['cuda', 'nccl', 'python', 'ray', 'torch']
"""

from __future__ import annotations

import importlib.metadata
import platform


def runtime_versions() -> dict[str, str]:
    """This process's versions; a key is absent where the package is (NCCL: where CUDA is).

    Example:
        >>> runtime_versions()["python"] == platform.python_version()
        True
    """
    out = {"python": platform.python_version()}
    try:
        out["ray"] = importlib.metadata.version("ray")
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        import torch
    except ImportError:
        return out
    out["torch"] = str(torch.__version__)
    if torch.version.cuda:
        out["cuda"] = str(torch.version.cuda)
    # Nothing here may ask CUDA for its devices (torch.cuda.is_available() and the like): torch caches the
    # count from CUDA_VISIBLE_DEVICES at the first ask, and the benchmark and Ray Train widen that variable
    # afterwards to share a node's GPUs; a count cached here made set_device(1) fail on a 2-GPU node.
    if torch.version.cuda:
        try:  # the NCCL torch loaded (its own wheel's), not the image's NCCL_VERSION label; no CUDA call
            out["nccl"] = ".".join(str(v) for v in torch.cuda.nccl.version())
        except (RuntimeError, AttributeError):
            pass
    return out
