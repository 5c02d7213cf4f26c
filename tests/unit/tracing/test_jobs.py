"""tracing/jobs.py: a job's span continues the trace its meta carries, and the handler's spans nest in it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import baggage, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from karafkad.tracing.jobs import JobSpans

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


@pytest.fixture
def jobs() -> Iterator[tuple[JobSpans, TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield JobSpans(provider.get_tracer("test")), provider, exporter
    provider.shutdown()


class TestJobSpans:
    def test_a_job_runs_in_a_child_of_its_meta_s_context_and_the_handler_s_spans_nest_in_it(
            self, jobs: tuple[JobSpans, TracerProvider, InMemorySpanExporter]) -> None:
        """`process QUEUE`, CONSUMER, child of the meta's span; current inside, with the meta's baggage."""
        spans, provider, exporter = jobs
        meta = {"traceparent": f"00-{TRACE}-{PARENT}-01", "baggage": "user=42", "progress": 1}
        with spans.job("kd-1", "handlers.orders.process", "orders", "w1", meta) as span:
            assert span is not None and trace.get_current_span() is span
            assert baggage.get_baggage("user") == "42"
            with provider.get_tracer("handler").start_as_current_span("charge"):
                pass
        handler, job = exporter.get_finished_spans()
        assert job.name == "process orders" and job.kind is SpanKind.CONSUMER
        assert job.parent is not None and (job.parent.trace_id, job.parent.span_id) == (int(TRACE, 16),
                                                                                          int(PARENT, 16))
        assert handler.parent is not None and job.context is not None
        assert handler.parent.span_id == job.context.span_id
        assert dict(job.attributes or {}) == {
            "messaging.system": "rq", "messaging.operation.type": "process", "messaging.operation.name": "process",
            "messaging.destination.name": "orders", "messaging.message.id": "kd-1", "messaging.client.id": "w1",
            "code.function.name": "handlers.orders.process"}

    def test_a_job_without_a_context_runs_as_it_is(
            self, jobs: tuple[JobSpans, TracerProvider, InMemorySpanExporter]) -> None:
        """No span is made."""
        spans, _, exporter = jobs
        with spans.job("kd-1", "f", "q", "w", {}) as span:
            assert span is None
        assert exporter.get_finished_spans() == ()

    def test_an_unsampled_context_is_current_but_not_recorded(
            self, jobs: tuple[JobSpans, TracerProvider, InMemorySpanExporter]) -> None:
        """Parent-based: the job's span and the handler's are not recorded, and start no trace of their own."""
        spans, provider, exporter = jobs
        with spans.job("kd-1", "f", "q", "w", {"traceparent": f"00-{TRACE}-{PARENT}-00"}) as span:
            assert span is not None and not span.is_recording()
            with provider.get_tracer("handler").start_as_current_span("charge") as inner:
                assert inner.get_span_context().trace_id == int(TRACE, 16)
        assert exporter.get_finished_spans() == ()

    def test_a_failed_job_s_span_says_so_with_its_exception(
            self, jobs: tuple[JobSpans, TracerProvider, InMemorySpanExporter]) -> None:
        """The worker's exception handler records the exception; a failed perform sets the status."""
        spans, _, exporter = jobs
        with spans.job("kd-1", "f", "q", "w", {"traceparent": f"00-{TRACE}-{PARENT}-01"}) as span:
            spans.record(KeyError("USD"))
            spans.failed(span)
        (job,) = exporter.get_finished_spans()
        assert job.status.status_code is StatusCode.ERROR
        assert job.attributes is not None and job.attributes["error.type"] == "KeyError"
        assert [event.name for event in job.events] == ["exception"]
