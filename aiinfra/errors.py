"""Errors that reach a user.

Every failure aiinfra expects is an :class:`AiinfraError`. The CLI prints its
message and exits with its ``exit_code``: 2 for bad input (a definition, an
argument), 1 for a failed operation or check. Nothing else should ever show a
traceback to a user.

Example:
    >>> from aiinfra.errors import Problem, DefinitionError
    >>> err = DefinitionError([Problem("clusters/x.yaml", 14, "rails[2].hca", "duplicate 'mlx5_3'")])
    >>> str(err)
    "clusters/x.yaml:14: rails[2].hca: duplicate 'mlx5_3'"
"""

from __future__ import annotations

from dataclasses import dataclass


class AiinfraError(Exception):
    """A failure with a message written for the user; exit code 1."""

    exit_code = 1


class UsageError(AiinfraError):
    """Bad input from the user (arguments, files); exit code 2."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located by line and field path."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class DefinitionError(UsageError):
    """A cluster definition that cannot be used; lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ClusterNotFound(AiinfraError):
    """No cluster of that name exists where we looked."""


class LaunchTimeout(AiinfraError):
    """A cluster or job did not become ready in time; the message says why."""


class ClusterConflict(UsageError):
    """A cluster of that name runs, made from another definition (or worker count); names what differs."""

    def __init__(self, message: str, differences: list[str]) -> None:
        self.differences = differences
        super().__init__(message)
