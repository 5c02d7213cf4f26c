"""Every error karafkad raises on purpose, so callers can tell them apart.

Only `HaltServer` derives from BaseException: a shutdown must not be
swallowed by an application's `except Exception`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a routes file, and where it is."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class KarafkadError(Exception):
    """Base class of the errors karafkad reports to its user."""


class ConfigError(KarafkadError):
    """The routes file is unreadable or invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class EnqueueError(KarafkadError):
    """Redis refused or could not take a batch of jobs; nothing of it was written."""


class DeadLetterError(KarafkadError):
    """A dead letter could not be delivered to its topic."""


class PidfileError(KarafkadError):
    """The pidfile is missing, stale, or names a process that is not karafkad."""


class HaltServer(BaseException):
    """Stop the daemon now, with this exit status (2 for a forced shutdown)."""

    def __init__(self, reason: str, exit_status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_status = exit_status
