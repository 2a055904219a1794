"""The notebook API: launch a Ray cluster, submit jobs, read logs, tear down.

Example (in a notebook):
    >>> import aiinfra
    >>> cluster = aiinfra.launch("clusters/local.yaml", workers=2)      # doctest: +SKIP
    >>> job = cluster.submit("python examples/train_ddp.py", working_dir=".")  # doctest: +SKIP
    >>> for line in job.logs(follow=True): print(line)                  # doctest: +SKIP
    >>> cluster.down()                                                   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from aiinfra.definition.loader import DEFAULT_DEFINITION, load_definition
from aiinfra.definition.model import ClusterDefinition
from aiinfra.errors import AiinfraError, ClusterNotFound, LaunchTimeout, UsageError
from aiinfra.launch.job import Job
from aiinfra.launch.local import LocalRayBackend, local_cluster_names, local_definition_path
from aiinfra.launch.protocol import Backend, ClusterStatus
from aiinfra.launch.ray_state import check_client_ray, served_ray_version
from aiinfra.launch.reattach import check_same_cluster

Progress = Callable[[ClusterStatus], None]
UPLOAD_EXCLUDES = (".git", ".cache", "build", "*.whl", "benchmarks/results", "tests/fixtures/sysfs")
"""Never uploaded with a working_dir, on top of the .gitignore files Ray's packer honours itself
(as `ray job submit --working-dir` does): history, build caches, and tests/fixtures/sysfs, which
copies real sysfs, symlink cycles included. Patterns without a trailing slash, so Ray skips each
directory whole instead of walking it."""
log = logging.getLogger(__name__)


class Cluster:
    """A handle on one Ray cluster, local or on Kubernetes."""

    def __init__(self, definition: ClusterDefinition, backend: Backend) -> None:
        self.definition = definition
        self.backend = backend
        self.name = backend.name
        self._client: Any = None
        self.reattached = False
        """True when launch() found this cluster running (same name and definition) and attached to it."""

    def status(self) -> ClusterStatus:
        """Current state; ``ready`` only once every worker has joined Ray."""
        return self.backend.status()

    def wait_ready(self, timeout: float = 600, progress: Progress | None = None) -> ClusterStatus:
        """Block until ready; on timeout, raise with the reasons (e.g. the scheduler's)."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.backend.status()
            if progress:
                progress(status)
            if status.ready:
                self.backend.after_ready()
                return status
            if time.monotonic() > deadline:
                why = "; ".join(status.reasons) or status.state
                raise LaunchTimeout(f"cluster '{self.name}' not ready after {timeout:.0f}s: {why}")
            time.sleep(1.0)

    @property
    def dashboard_url(self) -> str:
        """The Ray dashboard, reachable from this machine (port-forwarded on Kubernetes)."""
        return self.backend.dashboard()[0]

    def submit(
        self,
        entrypoint: str,
        runtime_env: dict[str, Any] | None = None,
        working_dir: str | Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Job:
        """Submit ``entrypoint`` as a Ray job (what `ray job submit` does)."""
        runtime_env = dict(runtime_env or {})
        if working_dir is not None and getattr(self.backend, "shares_filesystem", False):
            # The cluster runs on this machine: run in place instead of packaging the
            # directory. Ray's per-node unpacking of one working_dir into the temp dir
            # that local nodes share can pull it away from under a running worker.
            where = Path(working_dir).resolve()
            entrypoint = f"cd {shlex.quote(str(where))} && {entrypoint}"
            env_vars = dict(runtime_env.get("env_vars", {}))
            env_vars["PYTHONPATH"] = os.pathsep.join(p for p in (str(where), env_vars.get("PYTHONPATH", "")) if p)
            runtime_env["env_vars"] = env_vars
        elif working_dir is not None:
            runtime_env["working_dir"] = str(working_dir)
            runtime_env.setdefault("excludes", list(UPLOAD_EXCLUDES))
        if env:
            runtime_env["env_vars"] = {**runtime_env.get("env_vars", {}), **env}
        # Ray's job agent on the head comes up a little after the node joins: retry that one case.
        deadline = time.monotonic() + 60
        while True:
            try:
                job_id = self._jobs().submit_job(entrypoint=entrypoint, runtime_env=runtime_env or None)
                return Job(self._jobs(), job_id)
            except RuntimeError as exc:
                if "No available agent" not in str(exc) or time.monotonic() > deadline:
                    raise AiinfraError(f"submitting to '{self.name}' failed: {exc}") from None
                time.sleep(1.0)

    def init_ray(self, **kwargs: Any) -> Any:
        """Join a local cluster from this process as a Ray driver: ``ray.init`` with its address and token.

        Local clusters run with token authentication (Ray 2.60 turns it on for ``ray.init()``'s own
        clusters too), so a bare ``ray.init(address=...)`` is refused; this passes the token. On
        Kubernetes, drivers run in the cluster: use :meth:`submit`.

        Example:
            >>> cluster.init_ray(logging_level="WARNING")  # doctest: +SKIP
            >>> ray.get(ray.remote(lambda: 1).remote())    # doctest: +SKIP
            1
        """
        driver_env = getattr(self.backend, "driver_env", None)
        if driver_env is None:
            raise UsageError(f"'{self.name}' runs on Kubernetes: drivers run in it, through cluster.submit(...)")
        env = driver_env()
        import ray

        # A driver that joins needs the cluster's Ray to the minor version, not only the major.
        differs = check_client_ray(served_ray_version(*self.backend.dashboard()), f"cluster '{self.name}'")
        if differs:
            raise UsageError(differs)
        os.environ.update(env)
        _reload_ray_auth()
        return ray.init(address=env["RAY_ADDRESS"], **kwargs)

    def job(self, job_id: str) -> Job:
        """A handle on a job submitted earlier."""
        return Job(self._jobs(), job_id)

    def down(self) -> None:
        """Delete the cluster and everything aiinfra created for it."""
        self._client = None
        self.backend.delete()

    def _jobs(self) -> Any:
        if self._client is None:
            from ray.job_submission import JobSubmissionClient

            url, headers = self.backend.dashboard()
            # Job submission is HTTP and works across minor versions; another major version does not.
            warning = check_client_ray(served_ray_version(url, headers), f"cluster '{self.name}'")
            if warning:
                log.warning("%s", warning)
            try:
                self._client = JobSubmissionClient(url, headers=headers or None)
            except (ConnectionError, RuntimeError) as exc:
                raise AiinfraError(f"cannot reach the Ray dashboard of '{self.name}' at {url}: {exc}") from None
        return self._client

    def __repr__(self) -> str:
        return f"Cluster(name={self.name!r}, definition={self.definition.name!r})"


def launch(
    cluster: str | Path | ClusterDefinition = DEFAULT_DEFINITION,
    workers: int | None = None,
    name: str | None = None,
    namespace: str | None = None,
    wait: bool = True,
    timeout: float = 600,
    keep_within: str | None = None,
    progress: Progress | Literal["auto"] | None = "auto",
    preflight: bool = True,
) -> Cluster:
    """Create a Ray cluster from a definition and (by default) wait until it is ready.

    Without ``cluster`` it runs the embedded default shipped in the package
    (``aiinfra.definition.DEFAULT_DEFINITION``: local Ray processes on this machine).

    When a cluster named ``name`` already runs from the same definition (and worker count,
    when ``workers`` is given), launch() re-attaches to it instead (``cluster.reattached``),
    so a notebook's launch cell can be run again; another definition under that name is
    refused with a :class:`aiinfra.errors.ClusterConflict` naming the fields that differ.

    ``progress="auto"`` shows a status line per change of state in a notebook or
    terminal; pass None for silence or any callable taking a ClusterStatus.
    ``preflight=False`` skips the check that the nodes can hold the workers
    (the scheduler still decides; its reasons show up while waiting).

    Example:
        >>> c = launch("clusters/local.yaml", workers=2, name="demo")  # doctest: +SKIP
        >>> c.status().workers_joined                                   # doctest: +SKIP
        2
    """
    d = cluster if isinstance(cluster, ClusterDefinition) else load_definition(cluster)
    name = name or d.name
    if d.backend == "local":
        count = workers if workers is not None else 2
        backend: Backend = LocalRayBackend(d, name, count)
    else:
        from aiinfra.k8s.raycluster import LaunchOptions
        from aiinfra.launch.kuberay_backend import KubeRayBackend

        opts = LaunchOptions(name=name, workers=workers, namespace=namespace, keep_within=keep_within)
        backend = KubeRayBackend(d, opts, preflight=preflight)
    found = backend.find_running()
    if found is not None:  # a notebook's launch cell run again: the same cluster, or a refusal naming what differs
        backend, running, running_workers = found
        check_same_cluster(name, running, running_workers, d, workers)
    else:
        backend.create()
    handle = Cluster(d, backend)
    handle.reattached = found is not None
    if progress == "auto":
        progress = _auto_progress()
    if wait:
        try:
            handle.wait_ready(timeout, progress)
        except KeyboardInterrupt:
            raise AiinfraError(f"interrupted; '{name}' is left as it is: `aiinfra down {name}` removes it") from None
    return handle


def _reload_ray_auth() -> None:
    """Make an already imported Ray read RAY_AUTH_MODE/RAY_AUTH_TOKEN again (both cache them on first use).

    The same two calls Ray makes itself when it turns token auth on (2.52 to 2.60); an older or newer
    Ray without them reads the environment on its first ray.init, which is then enough.
    """
    with contextlib.suppress(ImportError, AttributeError):
        from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()


def _auto_progress() -> Progress | None:
    """A console display when a person is watching (a terminal or a notebook), else nothing."""
    import sys

    if sys.stderr.isatty() or "ipykernel" in sys.modules:
        from aiinfra.launch.progress import ConsoleProgress

        return ConsoleProgress()
    return None


def connect(name: str, namespace: str | None = None, cluster: str | Path | None = None) -> Cluster:
    """Re-attach to a cluster launched earlier, e.g. from a new notebook.

    Local clusters are found by name; a RayCluster is looked up in ``namespace``
    (default: the kubeconfig's namespace).

    Example:
        >>> c = aiinfra.connect("demo")  # doctest: +SKIP
    """
    if name in local_cluster_names():
        source = cluster or local_definition_path(name) or DEFAULT_DEFINITION
        d = load_definition(source)
        return Cluster(d, LocalRayBackend.attach(d, name))
    from aiinfra.k8s.client import Kube
    from aiinfra.launch.kuberay_backend import KubeRayBackend

    try:
        kube = Kube()
    except UsageError as exc:
        raise ClusterNotFound(f"no local cluster named '{name}', and no Kubernetes to look in: {exc}") from None
    backend = KubeRayBackend.attach(name, namespace, kube)
    return Cluster(backend.definition, backend)
