"""`karafkad worker`'s span per job: the job's trace continued, with the handler running inside it.

A job whose meta carries a trace context (tracing/context.py: karafkad's span's, or the producer's when
karafkad made none) runs inside a CONSUMER span `process QUEUE`, its child, made current: spans the handler
opens nest under it, and the context's baggage is the handler's. The context is read from the meta with the
configured propagators (OTEL_PROPAGATORS; W3C trace context and baggage by default), as
opentelemetry-instrumentation-rq reads it. A job without a context runs as it is: its handler's own spans, if
any, start traces of their own. An unsampled context is still made current (a non-recording span), so that the
handler's spans are not recorded either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.context import attach, detach
from opentelemetry.propagate import extract
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, get_current_span

from karafkad.tracing.context import from_carrier

MESSAGING_SYSTEM = "rq"
"""The messaging.system of a job's span (RQ is not among the semantic conventions' named systems)."""


class JobSpans:
    """Opens each job's span."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    @contextmanager
    def job(self, job_id: str, func_name: str, queue: str, worker: str, meta: dict[str, Any]) -> Iterator[Span | None]:
        """The span a job runs in (current inside the block), or None when its meta carries no context."""
        if from_carrier(meta) is None:
            yield None
            return
        parent = extract({k: v for k, v in meta.items() if isinstance(v, str)})
        attributes = {"messaging.system": MESSAGING_SYSTEM, "messaging.operation.type": "process",
                      "messaging.operation.name": "process", "messaging.destination.name": queue,
                      "messaging.message.id": job_id, "messaging.client.id": worker, "code.function.name": func_name}
        token = attach(parent)  # the extracted context current, baggage and all, under the job's span
        try:
            with self.tracer.start_as_current_span(f"process {queue}", kind=SpanKind.CONSUMER,
                                                   attributes=attributes) as span:
                yield span
        finally:
            detach(token)

    @staticmethod
    def failed(span: Span | None) -> None:
        """Mark a job's span as failed (RQ caught the handler's exception; `record` recorded it)."""
        if span is not None and span.is_recording():
            span.set_status(Status(StatusCode.ERROR, "the job failed"))

    @staticmethod
    def record(exception: BaseException) -> None:
        """Record a job's exception on its span, the current one (from the worker's exception handler)."""
        span = get_current_span()
        if span.is_recording():
            span.record_exception(exception)
            span.set_attribute("error.type", type(exception).__qualname__)
