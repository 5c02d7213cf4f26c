"""Every error karafkad raises on purpose, so callers can tell them apart.

All derive from `KarafkadError`; those that describe a bad value also derive
from ValueError, as Python's own do. `karafkad.producer.ProduceError` lives
beside the producer it belongs to (it carries the undelivered messages) and
derives from KarafkadError too. The one exception is `HaltServer`, a
BaseException: a shutdown must not be swallowed by an application's
`except Exception`.

Misusing a Python API is not one of these: the public APIs (karafkad.producer,
karafkad.testing) raise Python's own TypeError and ValueError for wrong
argument types or values, as the standard library does, and the test helpers
of karafkad.testing raise AssertionError (`Outcome.job()`) and LookupError
(a topic no route consumes), as test tools do.
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


# --- compiling a route (each becomes a Problem of the routes file) -----------


class PluginError(KarafkadError, ValueError):
    """A dotted path that does not name a usable handler or hook; the message says why."""


class SchemaError(KarafkadError, ValueError):
    """A message schema that cannot be read or is not a valid JSON Schema."""


class ExpressionError(KarafkadError, ValueError):
    """A filter expression that does not compile; `column` is 1-based in the expression."""

    def __init__(self, message: str, column: int = 0) -> None:
        self.message = message
        self.column = column
        super().__init__(f"column {column}: {message}" if column else message)


# --- one message (each becomes the message's outcome, never a crash) ----------


class DecodeError(KarafkadError, ValueError):
    """A value that cannot be decoded as its route says; the message is the reason."""


class FilterRuntimeError(KarafkadError):
    """A filter failed on one message (for example a string compared to a number)."""


# --- delivering (the consumer pauses and retries; nothing is committed) -------


class EnqueueError(KarafkadError):
    """Redis refused or could not take a batch of jobs; nothing of it may be assumed written."""


class ReplicasBehind(EnqueueError):
    """Redis took the batch, but fewer replicas than redis.min_replicas_acked acknowledged it in time."""


class RegistryUnavailable(KarafkadError):
    """The Schema Registry could not answer (down, slow, refusing the credentials): never a message's fault, so
    consuming pauses and asks again; the message says where and why, without secrets."""


class DeadLetterError(KarafkadError):
    """A dead letter could not be delivered to its topic."""


# --- operator commands ---------------------------------------------------------


class OperationRefused(KarafkadError):
    """A replay or re-drive that cannot run as asked; the message says why and what to do instead."""


# --- running the daemon ---------------------------------------------------------


class PidfileError(KarafkadError):
    """The pidfile is missing, stale, or names a process that is not karafkad."""


class TracingUnavailable(KarafkadError):
    """The OTEL_* variables ask for tracing that cannot be had here (an exporter or protocol not installed or
    not supported); tracing stays off, the rest runs."""


class HaltServer(BaseException):
    """Stop the daemon now, with this exit status (2 for a forced shutdown)."""

    def __init__(self, reason: str, exit_status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_status = exit_status
