"""What the pipeline tells the tracer about a message it decided: one outcome per route (no OpenTelemetry here).

The pipeline reads a sampled message's outcomes from its batch once the message is decided
(pipeline/watching.py) and hands them to a MessageTracer (tracing/spans.py, with tracing on), which makes a
span per route and answers the context each of that route's jobs continues from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from karafkad.tracing.context import TraceContext

if TYPE_CHECKING:  # (at run time it would import kafka-python: see tracing/context.py)
    from karafkad.clients.kafka.types import Record

Outcome = Literal["enqueue", "skip", "reject"]
"""What a route made of a message: a job (or a place in a batch route's job), nothing on purpose, a dead letter
(or, under `on_error: skip`, a counted skip with the dead letter's reason)."""


@dataclass(frozen=True, slots=True)
class RouteOutcome:
    """What one route made of one message."""

    route: str
    outcome: Outcome
    reason: str = ""
    """Why: a skip's reason (filtered, vetoed, expired, tombstone, error:KIND), a rejection's `KIND: reason`."""
    queue: str = ""
    """The RQ queue of its job (enqueue)."""
    job_ids: tuple[str, ...] = ()
    """The ids of its jobs (enqueue; none for a batch route, whose job is named when the batch is complete)."""


class MessageTracer(Protocol):
    """Makes the spans of sampled messages (tracing/spans.py's MessageSpans with tracing on)."""

    def spans(self, record: Record, group: str, context: TraceContext, started_ns: int,
              outcomes: Sequence[RouteOutcome]) -> list[TraceContext | None]:
        """A span per outcome, children of `context`, from `started_ns` (ns since the epoch) to now; for each
        outcome, the context its jobs continue from (None: the span was not recorded, carry `context`)."""
        ...
