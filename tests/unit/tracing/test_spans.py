"""tracing/spans.py: a sampled message's spans, as the SDK records them (its in-memory exporter)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import SpanKind, StatusCode
from structlog.testing import capture_logs
from tables import make_record

from karafkad.observability import get_logger
from karafkad.tracing.context import TraceContext
from karafkad.tracing.messages import RouteOutcome
from karafkad.tracing.spans import MessageSpans

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
CONTEXT = TraceContext(f"00-{TRACE}-{PARENT}-01", "vendor=x", "user=42")


@pytest.fixture
def exported() -> Iterator[tuple[MessageSpans, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield MessageSpans(provider.get_tracer("test"), get_logger("test")), exporter
    provider.shutdown()


class TestMessageSpans:
    def test_a_span_per_route_named_and_attributed_as_the_messaging_conventions_say(
            self, exported: tuple[MessageSpans, InMemorySpanExporter]) -> None:
        """`process TOPIC`, a CONSUMER span, child of the producer's span in its trace; the message's place, the
        route and its outcome; its job continues from it."""
        spans, exporter = exported
        record = make_record(7, b'{"n": 1}', topic="orders", partition=3)
        (child,) = spans.spans(record, "billing", CONTEXT, 1_000, [RouteOutcome("r", "enqueue", "", "q", ("kd-1",))])
        (span,) = exporter.get_finished_spans()
        assert span.name == "process orders" and span.kind is SpanKind.CONSUMER
        assert span.parent is not None and (span.parent.trace_id, span.parent.span_id) == (int(TRACE, 16),
                                                                                             int(PARENT, 16))
        assert span.context is not None and span.context.trace_id == int(TRACE, 16)
        assert dict(span.attributes or {}) == {
            "messaging.system": "kafka", "messaging.operation.type": "process", "messaging.operation.name": "process",
            "messaging.destination.name": "orders", "messaging.destination.partition.id": "3",
            "messaging.kafka.offset": 7, "messaging.consumer.group.name": "billing", "messaging.message.body.size": 8,
            "karafkad.route": "r", "karafkad.outcome": "enqueue", "karafkad.queue": "q", "karafkad.job.id": "kd-1"}
        assert span.start_time == 1_000 and span.end_time is not None and span.end_time > 1_000
        assert child == CONTEXT.child(span.context.span_id, 1)
        assert span.context.trace_state.to_header() == "vendor=x"

    def test_a_rejected_message_s_span_is_an_error_with_the_reason(
            self, exported: tuple[MessageSpans, InMemorySpanExporter]) -> None:
        """A dead letter: status ERROR with its reason, error.type its kind; a skip is no error."""
        spans, exporter = exported
        spans.spans(make_record(0, None), "g", CONTEXT, 1, [RouteOutcome("a", "reject", "schema: /n: not a string"),
                                                            RouteOutcome("b", "skip", "filtered")])
        rejected, skipped = exporter.get_finished_spans()
        assert rejected.status.status_code is StatusCode.ERROR
        assert rejected.status.description == "schema: /n: not a string"
        assert rejected.attributes is not None and rejected.attributes["error.type"] == "schema"
        assert skipped.status.status_code is StatusCode.UNSET
        assert skipped.attributes is not None and skipped.attributes["karafkad.outcome.reason"] == "filtered"
        assert "messaging.message.body.size" not in skipped.attributes  # a tombstone has no body

    def test_a_span_the_sampler_drops_gives_no_context(self) -> None:
        """A sampler that drops it (OTEL_TRACES_SAMPLER always_off): nothing exported, the job keeps the
        producer's context."""
        exporter = InMemorySpanExporter()
        provider = TracerProvider(sampler=ParentBased(ALWAYS_OFF, remote_parent_sampled=ALWAYS_OFF),
                                  shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        spans = MessageSpans(provider.get_tracer("test"), get_logger("test"))
        assert spans.spans(make_record(0, b"{}"), "g", CONTEXT, 1, [RouteOutcome("r", "enqueue")]) == [None]
        assert exporter.get_finished_spans() == ()

    def test_a_failing_tracer_costs_no_message_and_one_warning(self) -> None:
        """Whatever goes wrong making a span, the message's jobs carry its context as it came; said once."""
        class Broken:
            def start_span(self, *args: object, **kwargs: object) -> None:
                raise RuntimeError("broken")

        spans = MessageSpans(Broken(), get_logger("test"))  # type: ignore[arg-type]
        with capture_logs() as logs:
            for _ in range(3):
                assert spans.spans(make_record(0, b"{}"), "g", CONTEXT, 1, [RouteOutcome("r", "enqueue")]) == [None]
        assert [log["log_level"] for log in logs] == ["warning"]
