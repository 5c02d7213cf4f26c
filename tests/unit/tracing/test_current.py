"""tracing/current.py: what karafkad.producer adds to a message sent inside an application's span."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from karafkad.tracing.current import with_current_context

SPAN = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=False,
                   trace_flags=TraceFlags(1))
TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class TestWithCurrentContext:
    def test_inside_a_span_its_context_is_added(self) -> None:
        """The application's propagators write it (W3C by default), after the message's own headers."""
        with trace.use_span(NonRecordingSpan(SPAN)):
            assert with_current_context([("h", b"1")]) == [("h", b"1"), ("traceparent", TRACEPARENT)]

    def test_a_traceparent_of_the_caller_wins(self) -> None:
        """Headers that carry a context already (a re-driven message's, the caller's own) are left as they are."""
        own = [("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")]
        with trace.use_span(NonRecordingSpan(SPAN)):
            assert with_current_context(own) == own

    def test_outside_a_span_nothing_is_added(self) -> None:
        """No current span, no context to pass."""
        assert with_current_context([("h", b"1")]) == [("h", b"1")]
