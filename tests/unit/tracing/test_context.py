"""tracing/context.py: the W3C trace context read from headers, job meta and the environment, and written as RQ
would write a job's meta."""

from __future__ import annotations

import json

import pytest
from rq.serializers import JSONSerializer

from karafkad.tracing.context import (
    MAX_LIST_BYTES,
    TraceContext,
    from_carrier,
    from_environment,
    from_headers,
    parse_traceparent,
)

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
SAMPLED = f"00-{TRACE}-{PARENT}-01"
UNSAMPLED = f"00-{TRACE}-{PARENT}-00"


class TestParseTraceparent:
    @pytest.mark.parametrize("value", [SAMPLED, UNSAMPLED, f"00-{TRACE}-{PARENT}-03", f" {SAMPLED}\t",
                                       f"01-{TRACE}-{PARENT}-01-future-field", f"cc-{TRACE}-{PARENT}-09"])
    def test_valid_traceparents_are_taken_whatever_their_flags(self, value: str) -> None:
        """W3C's form, with any flags byte (03: sampled and random, as OpenTelemetry sets it), spaces and tabs
        around removed; a later version may carry more fields after a dash."""
        assert parse_traceparent(value.encode()) == value.strip()

    @pytest.mark.parametrize("value", [
        f"ff-{TRACE}-{PARENT}-01",  # version ff is invalid
        f"00-{TRACE}-{PARENT}-01-extra",  # version 00 has exactly four fields
        f"00-{TRACE.upper()}-{PARENT}-01",  # upper-case hex
        f"00-{'0' * 32}-{PARENT}-01",  # no trace id
        f"00-{TRACE}-{'0' * 16}-01",  # no parent id
        f"00-{TRACE[:-1]}-{PARENT}-01",  # short
        "", "00", "garbage",
    ])
    def test_invalid_traceparents_are_no_context(self, value: str) -> None:
        """Anything else is ignored, as W3C says."""
        assert parse_traceparent(value.encode()) is None

    def test_no_value_is_no_context(self) -> None:
        """A header without a value (Kafka allows one) carries nothing."""
        assert parse_traceparent(None) is None


class TestFromHeaders:
    def test_the_traceparent_and_every_tracestate_and_baggage_header(self) -> None:
        """Several tracestate (or baggage) headers are one list; other headers are left alone."""
        context = from_headers([("other", b"x"), ("traceparent", SAMPLED.encode()), ("tracestate", b"a=1"),
                                ("tracestate", b"b=2"), ("baggage", b"user=42")])
        assert context == TraceContext(SAMPLED, "a=1,b=2", "user=42")

    def test_the_first_traceparent_counts(self) -> None:
        """As OpenTelemetry's propagator reads a carrier with several."""
        context = from_headers([("traceparent", SAMPLED.encode()), ("traceparent", UNSAMPLED.encode())])
        assert context is not None and context.traceparent == SAMPLED

    def test_no_traceparent_is_no_context_even_with_baggage(self) -> None:
        """tracestate and baggage ride with a traceparent, never alone."""
        assert from_headers([("baggage", b"user=42"), ("tracestate", b"a=1")]) is None
        assert from_headers([]) is None

    def test_an_invalid_traceparent_takes_its_tracestate_with_it(self) -> None:
        """An invalid traceparent is no context, whatever came with it."""
        assert from_headers([("traceparent", b"00-nonsense"), ("tracestate", b"a=1")]) is None

    @pytest.mark.parametrize("bad", [b"caf\xc3\xa9=1", b"a=\x01", b"a=" + b"x" * MAX_LIST_BYTES])
    def test_a_tracestate_that_is_not_printable_ascii_or_too_long_is_left_out(self, bad: bytes) -> None:
        """The traceparent is carried; the bad list is not (W3C: discard a tracestate that is invalid)."""
        assert from_headers([("traceparent", SAMPLED.encode()), ("tracestate", bad)]) == TraceContext(SAMPLED)


class TestTraceContext:
    def test_its_parts_and_the_sampled_flag(self) -> None:
        """trace id, parent id and flags are read off the traceparent; bit 0 of the flags is `sampled`."""
        context = TraceContext(f"00-{TRACE}-{PARENT}-03")
        assert (context.trace_id, context.parent_id, context.flags, context.sampled) == (TRACE, PARENT, 3, True)
        assert not TraceContext(UNSAMPLED).sampled

    def test_a_child_keeps_the_trace_tracestate_and_baggage(self) -> None:
        """Continued from another span: that span's id and flags, the rest as it was."""
        child = TraceContext(SAMPLED, "a=1", "user=42").child(0xABC, 1)
        assert child == TraceContext(f"00-{TRACE}-0000000000000abc-01", "a=1", "user=42")

    @pytest.mark.parametrize("context", [
        TraceContext(SAMPLED), TraceContext(SAMPLED, "a=1,b=2"), TraceContext(SAMPLED, None, "user=42;p=v"),
        TraceContext(SAMPLED, 'a="quoted"', "b=back\\slash"),
    ])
    def test_json_meta_is_what_rqs_json_serializer_writes(self, context: TraceContext) -> None:
        """Byte for byte RQ's JSONSerializer.dumps of the carrier, built by hand or (quotes, backslashes) not."""
        assert context.json_meta() == JSONSerializer.dumps(context.carrier())
        assert json.loads(context.json_meta()) == context.carrier()


class TestFromCarrier:
    def test_a_job_meta_s_context(self) -> None:
        """The meta's W3C keys; other keys and non-text values are not part of it."""
        meta = {"traceparent": SAMPLED, "tracestate": "a=1", "baggage": 7, "progress": 3}
        assert from_carrier(meta) == TraceContext(SAMPLED, "a=1")
        assert from_carrier({"traceparent": 42}) is None and from_carrier({}) is None

    def test_the_environment_s_context(self) -> None:
        """TRACEPARENT, TRACESTATE and BAGGAGE, as OpenTelemetry's environment carriers name them."""
        environ = {"TRACEPARENT": SAMPLED, "TRACESTATE": "a=1", "BAGGAGE": "user=42", "PATH": "/bin"}
        assert from_environment(environ) == TraceContext(SAMPLED, "a=1", "user=42")
        assert from_environment({"PATH": "/bin"}) is None
