"""A job submitted to a cluster: its state, its logs (followed as they grow), waiting and stopping.

Example:
    >>> job = cluster.submit("python examples/train_ddp.py")  # doctest: +SKIP
    >>> job.wait()  # doctest: +SKIP
    'SUCCEEDED'
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from aiinfra.errors import LaunchTimeout

_TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


class Job:
    """A Ray job submitted through the cluster's dashboard (Ray's JobSubmissionClient)."""

    def __init__(self, client: Any, job_id: str) -> None:
        self._client = client
        self.id = job_id

    def status(self) -> str:
        """PENDING, RUNNING, SUCCEEDED, FAILED or STOPPED."""
        return str(self._client.get_job_status(self.id).value)

    def message(self) -> str:
        """Ray's one-line account of the job (why it failed, when it did)."""
        return str(self._client.get_job_info(self.id).message or "")

    def logs(self, follow: bool = False) -> Iterator[str]:
        """Log lines so far, or (follow=True) every line until the job ends.

        Example:
            >>> for line in job.logs(follow=True): print(line)  # doctest: +SKIP
        """
        if not follow:
            yield from self._client.get_job_logs(self.id).splitlines()
            return
        shown = 0
        while True:
            done = self.status() in _TERMINAL
            lines = self._client.get_job_logs(self.id).splitlines()
            yield from lines[shown:]
            shown = len(lines)
            if done:
                return
            time.sleep(0.5)

    def wait(self, timeout: float = 3600) -> str:
        """Block until the job ends; return its final status."""
        deadline = time.monotonic() + timeout
        while (state := self.status()) not in _TERMINAL:
            if time.monotonic() > deadline:
                raise LaunchTimeout(f"job {self.id} still {state} after {timeout:.0f}s")
            time.sleep(0.5)
        return state

    def stop(self) -> None:
        """Ask Ray to stop the job."""
        self._client.stop_job(self.id)
