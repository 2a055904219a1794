"""The Ray and KubeRay versions aiinfra supports, and whether the versions in play agree.

Three Ray versions meet in a Kubernetes cluster: the one the definition
declares (``ray.version``, KubeRay's ``spec.rayVersion``, which KubeRay uses
to decide what the image can do), the one in the image, and the one on the
machine that launches and submits. They must agree well enough to work:

- the image tag's version is the declared one (else KubeRay configures the pods
  for a Ray that is not there);
- token authentication needs Ray >= 2.52 in the image: an older Ray ignores
  ``RAY_AUTH_MODE`` and serves everyone, while the definition says it is protected;
- the client and the cluster share a major version; across minor versions job
  submission (HTTP) works, but ``ray://`` clients and drivers joining the cluster
  need the same Ray (and Python) on both sides, so that is a warning;
- the workers of one job run the same Python (major.minor), Ray, torch and NCCL
  (:func:`runtime_mismatch`): Ray refuses a node of another Ray, pickles need one
  Python, and torch.distributed/NCCL ranks of different versions fail or hang in
  the first collective.

Example:
    >>> SUPPORTED_RAY
    ('2.52.0', '2.61.0')
    >>> image_ray_version("rayproject/ray:2.52.1-py311-gpu")
    '2.52.1'
    >>> client_mismatch("2.60.0", "2.52.1")[0]
    'warning'
"""

from __future__ import annotations

import re
from collections.abc import Mapping

SUPPORTED_RAY = ("2.52.0", "2.61.0")
"""Ray versions supported in images and on clients: from the first, up to (not including) the second."""
TESTED_RAY = ("2.52.1", "2.60.0")
"""Versions the test suite ran with (local clusters, placement, training)."""
SUPPORTED_KUBERAY = ("1.5.0", "1.6.0")
"""KubeRay operator versions supported: the 1.5 line the simulator runs and the tests pass with (1.6.1 is served by
the module proxy but untested here; 1.7.0 cannot be fetched)."""
TOKEN_AUTH_SINCE = "2.52.0"
"""First Ray with token authentication (RAY_AUTH_MODE=token)."""


def parse(version: str) -> tuple[int, int, int]:
    """'2.52.1' -> (2, 52, 1); a suffix such as 'rc1' or '.dev0' is ignored.

    Example:
        >>> parse("2.60.0rc1")
        (2, 60, 0)
    """
    m = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", version.strip())
    if not m:
        raise ValueError(f"not a version: {version!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def supported(version: str) -> bool:
    """Whether ``version`` is within SUPPORTED_RAY.

    Example:
        >>> supported("2.52.1"), supported("2.51.0"), supported("2.61.0")
        (True, False, False)
    """
    return parse(SUPPORTED_RAY[0]) <= parse(version) < parse(SUPPORTED_RAY[1])


def image_ray_version(image: str) -> str | None:
    """The Ray version in an image tag of the rayproject/ray (or anyscale/ray) kind, else None.

    Example:
        >>> image_ray_version("registry.local/ml/ray-train:2024-06") is None
        True
    """
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return None
    m = re.match(r"^(\d+\.\d+\.\d+)(?:-|$)", tag)
    return m.group(1) if m else None


def definition_problems(version: str, image: str, auth: str) -> list[str]:
    """What makes a definition's Ray versions unworkable; [] when they agree.

    Example:
        >>> [p.split(":")[0] for p in definition_problems("2.52.1", "rayproject/ray:2.51.0-gpu", "token")]
        ['ray.image runs Ray 2.51.0 but ray.version says 2.52.1', 'ray.auth']
    """
    out = []
    if not supported(version):
        out.append(f"Ray {version} is outside the supported range >={SUPPORTED_RAY[0]},<{SUPPORTED_RAY[1]}")
    in_image = image_ray_version(image)
    if in_image is not None and in_image != version:
        out.append(
            f"ray.image runs Ray {in_image} but ray.version says {version}: KubeRay configures the pods by "
            "ray.version; make them the same"
        )
    if auth == "token" and parse(in_image or version) < parse(TOKEN_AUTH_SINCE):
        out.append(
            f"ray.auth: token needs Ray >= {TOKEN_AUTH_SINCE}; an older Ray ignores RAY_AUTH_MODE and serves anyone"
        )
    return out


def client_mismatch(client: str, cluster: str) -> tuple[str, str] | None:
    """('error' | 'warning', why) when the client's Ray and the cluster's disagree, else None.

    Example:
        >>> client_mismatch("2.52.1", "2.52.1") is None
        True
        >>> client_mismatch("3.0.0", "2.52.1")[0]
        'error'
    """
    mine, theirs = parse(client), parse(cluster)
    if mine[0] != theirs[0]:
        why = f"this machine runs Ray {client}, the cluster Ray {cluster}: different major versions do not talk"
        return "error", why
    if mine[:2] != theirs[:2]:
        return "warning", (
            f"this machine runs Ray {client}, the cluster Ray {cluster}: job submission works across minor "
            "versions, but ray:// clients and drivers run from here need the same Ray (and Python) as the cluster"
        )
    return None


_SAME_ON_EVERY_WORKER = (
    ("python", "Python", "Ray pickles functions and objects between workers; they need one Python minor version"),
    ("ray", "Ray", "a Ray node of another version cannot join or talk to the cluster"),
    ("torch", "torch", "torch.distributed needs the same torch on every rank"),
    ("nccl", "NCCL", "NCCL ranks of different versions fail or hang in the first collective"),
)


def runtime_mismatch(workers: Mapping[str, Mapping[str, str]]) -> str | None:
    """Why workers (name -> versions, as aiinfra.worker_versions reports them) cannot run one job, else None.

    A version a worker does not report (no CUDA, so no NCCL) is not compared.

    Example:
        >>> ok = {"w0": {"torch": "2.5.1", "nccl": "2.21.5"}, "w1": {"torch": "2.5.1", "nccl": "2.21.5"}}
        >>> runtime_mismatch(ok) is None
        True
        >>> print(runtime_mismatch({**ok, "w1": {"torch": "2.5.1", "nccl": "2.26.2"}}))
        workers run different NCCL: 2.21.5 on w0; 2.26.2 on w1 (NCCL ranks of different versions fail or hang \
in the first collective); build every worker from the same image
    """
    problems = []
    for key, label, why in _SAME_ON_EVERY_WORKER:
        seen: dict[str, list[str]] = {}
        for name, versions in workers.items():
            value = versions.get(key)
            if value:
                value = ".".join(value.split(".")[:2]) if key == "python" else value
                seen.setdefault(value, []).append(name)
        if len(seen) > 1:
            where = "; ".join(f"{v} on {', '.join(names)}" for v, names in sorted(seen.items()))
            problems.append(f"workers run different {label}: {where} ({why})")
    if not problems:
        return None
    return "; ".join(problems) + "; build every worker from the same image"
