"""The daemon's spans: one per route of a message whose trace context is sampled, named and attributed as
OpenTelemetry's messaging semantic conventions say for a Kafka consumer's "process" span.

A span is made once the pipeline has decided the message (pipeline/watching.py), from when it started on it to
then: a CONSUMER span `process TOPIC`, child of the producer's context, with the message's place (system kafka,
topic, partition, offset, consumer group), the route, and its outcome (enqueue, skip or reject, and why). The
route's jobs carry the span's context in their meta, so a worker's span is its child. Unsampled messages and
messages without a context get no span (parent-based sampling, decided before the SDK is asked: they cost it
nothing); a sampled one is still offered to the configured sampler.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
    TraceState,
    set_span_in_context,
)
from structlog.typing import FilteringBoundLogger

from karafkad.clients.kafka.types import Record
from karafkad.tracing.context import TraceContext
from karafkad.tracing.messages import RouteOutcome

# Attribute names of the messaging semantic conventions (v1.27 and later) and karafkad's own.
MESSAGING_SYSTEM = "messaging.system"
OPERATION_TYPE = "messaging.operation.type"
OPERATION_NAME = "messaging.operation.name"
DESTINATION = "messaging.destination.name"
PARTITION = "messaging.destination.partition.id"
OFFSET = "messaging.kafka.offset"
CONSUMER_GROUP = "messaging.consumer.group.name"
BODY_SIZE = "messaging.message.body.size"
ERROR_TYPE = "error.type"
ROUTE = "karafkad.route"
OUTCOME = "karafkad.outcome"
REASON = "karafkad.outcome.reason"
QUEUE = "karafkad.queue"
JOB_ID = "karafkad.job.id"

MAX_REASON = 1000
"""Characters of an outcome's reason kept in a span (a schema problem can quote a large value)."""


def remote_parent(context: TraceContext) -> Context:
    """The OpenTelemetry context of a span whose parent is `context` (as the W3C propagator extracts it)."""
    trace_state = TraceState.from_header([context.tracestate]) if context.tracestate else None
    parent = SpanContext(int(context.trace_id, 16), int(context.parent_id, 16), is_remote=True,
                         trace_flags=TraceFlags(context.flags), trace_state=trace_state)
    return set_span_in_context(NonRecordingSpan(parent))


class MessageSpans:
    """tracing.messages.MessageTracer over an OpenTelemetry tracer."""

    def __init__(self, tracer: Tracer, log: FilteringBoundLogger) -> None:
        self.tracer = tracer
        self.log = log
        self._failed = False

    def spans(self, record: Record, group: str, context: TraceContext, started_ns: int,
              outcomes: Sequence[RouteOutcome]) -> list[TraceContext | None]:
        try:
            return self._spans(record, group, context, started_ns, outcomes)
        except Exception as exc:  # a tracing failure must never cost a message: no span, the context as it came
            if not self._failed:
                self._failed = True
                self.log.warning("cannot make a message's span; its jobs carry its context as it came",
                                 error=f"{type(exc).__name__}: {exc}")
            return [None] * len(outcomes)

    def _spans(self, record: Record, group: str, context: TraceContext, started_ns: int,
               outcomes: Sequence[RouteOutcome]) -> list[TraceContext | None]:
        parent = remote_parent(context)
        message: dict[str, Any] = {
            MESSAGING_SYSTEM: "kafka", OPERATION_TYPE: "process", OPERATION_NAME: "process",
            DESTINATION: record.topic, PARTITION: str(record.partition), OFFSET: record.offset, CONSUMER_GROUP: group,
        }
        if record.value is not None:
            message[BODY_SIZE] = len(record.value)
        name = f"process {record.topic}"
        ended = time.time_ns()
        out: list[TraceContext | None] = []
        for outcome in outcomes:
            attributes = {**message, ROUTE: outcome.route, OUTCOME: outcome.outcome}
            if outcome.reason:
                attributes[REASON] = outcome.reason[:MAX_REASON]
            if outcome.queue:
                attributes[QUEUE] = outcome.queue
            if outcome.job_ids:
                attributes[JOB_ID] = outcome.job_ids[0] if len(outcome.job_ids) == 1 else list(outcome.job_ids)
            if outcome.outcome == "reject":
                attributes[ERROR_TYPE] = outcome.reason.split(":", 1)[0]
            span = self.tracer.start_span(name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes,
                                          start_time=started_ns)
            if outcome.outcome == "reject":
                # A dead letter is the message's failure to become a job (bad input), not karafkad's.
                span.set_status(Status(StatusCode.ERROR, outcome.reason[:MAX_REASON]))
            recorded = span.is_recording()
            made = span.get_span_context()
            span.end(end_time=ended)
            out.append(context.child(made.span_id, int(made.trace_flags)) if recorded else None)
        return out
