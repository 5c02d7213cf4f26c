"""The W3C trace context as karafkad carries it: read from a message's Kafka headers, written into its job's meta.

Services that trace put `traceparent` (and `tracestate`, `baggage`) in the headers of what they produce;
karafkad hands them on to the job in its `meta`, under the same keys, as text: the form RQ's OpenTelemetry
instrumentation (opentelemetry-instrumentation-rq) injects and extracts, so `karafkad worker`, or a stock
worker with that instrumentation, continues the producer's trace. That costs a look at the headers, and is done
with tracing off too; nothing here imports OpenTelemetry.

A traceparent that is not valid W3C is no context at all (as the W3C spec says: ignore it, and its tracestate);
a tracestate or baggage that is not printable ASCII, or too long, is left out and the rest carried.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # (at run time it would import kafka-python, which the routes, and `karafkad check`, never need)
    from karafkad.clients.kafka.types import RecordHeaders

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
BAGGAGE = "baggage"
ENVIRONMENT_KEYS = {TRACEPARENT: "TRACEPARENT", TRACESTATE: "TRACESTATE", BAGGAGE: "BAGGAGE"}
"""The environment variables a command takes its caller's context from (OpenTelemetry's "environment variables
as context propagation carriers")."""

MAX_LIST_BYTES = 8192
"""Longest tracestate or baggage carried (the W3C baggage limit; a tracestate of 32 members fits many times): a
header larger than that is left out, so a job's meta stays small whatever a producer sends."""

_TRACEPARENT = re.compile(rb"[ \t]*(([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-[ -~]*)?)[ \t]*")
"""version-trace id-parent id-flags, lower-case hex (W3C); a later version may add fields after a dash."""
_VERSION_00 = re.compile(rb"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
"""The traceparent nearly every message carries: version 00, nothing around it (parse_traceparent's fast path)."""
_NO_TRACE = b"0" * 32
_NO_PARENT = b"0" * 16


class TraceContext(NamedTuple):
    """A valid W3C trace context: its traceparent, and the tracestate and baggage that came with it.

    (A named tuple: made for each message that carries a context, in a fifth of a frozen dataclass's time.)
    """

    traceparent: str
    tracestate: str | None = None
    baggage: str | None = None

    @property
    def trace_id(self) -> str:
        return self.traceparent[3:35]

    @property
    def parent_id(self) -> str:
        """The span the context names as the parent of whatever continues it."""
        return self.traceparent[36:52]

    @property
    def flags(self) -> int:
        return int(self.traceparent[53:55], 16)

    @property
    def sampled(self) -> bool:
        """The sampled flag: the trace is recorded upstream, so spans that continue it are worth making."""
        return bool(self.flags & 1)

    def carrier(self) -> dict[str, str]:
        """The context under its W3C keys (a job's meta, a message's headers)."""
        out = {TRACEPARENT: self.traceparent}
        if self.tracestate is not None:
            out[TRACESTATE] = self.tracestate
        if self.baggage is not None:
            out[BAGGAGE] = self.baggage
        return out

    def child(self, span_id: int, flags: int) -> TraceContext:
        """The same trace continued from the span `span_id` (with its flags), tracestate and baggage kept."""
        return TraceContext(f"00-{self.trace_id}-{span_id:016x}-{flags:02x}", self.tracestate, self.baggage)

    def json_meta(self) -> bytes:
        """The job's `meta` field for the JSON serializer: exactly what RQ's JSONSerializer writes for
        `carrier()` (json.dumps), built by hand when nothing needs escaping (printable ASCII without quotes
        or backslashes: always so for a traceparent alone). A tenth of json.dumps's time; it is paid for each
        message that carries a context, with tracing off too."""
        if self.tracestate is None and self.baggage is None:
            return b'{"traceparent": "' + self.traceparent.encode() + b'"}'
        carrier = self.carrier()
        if any('"' in value or "\\" in value for value in carrier.values()):
            return json.dumps(carrier).encode("utf-8")
        return ("{" + ", ".join(f'"{key}": "{value}"' for key, value in carrier.items()) + "}").encode()


def parse_traceparent(value: bytes | str | None) -> str | None:
    """`value` as a valid traceparent (spaces and tabs around it removed), or None: W3C's rules (lower-case hex,
    version ff invalid, version 00 exactly 55 characters, trace and parent ids not all zeros); any flags byte
    (OpenTelemetry sets 03, sampled and random, since 2025)."""
    if value is None:
        return None
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "replace")
    if _VERSION_00.fullmatch(raw) is not None:
        return None if raw[3:35] == _NO_TRACE or raw[36:52] == _NO_PARENT else raw.decode("ascii")
    match = _TRACEPARENT.fullmatch(raw)
    if match is None:
        return None
    whole, version, trace_id, parent_id, rest = match.groups()
    if version == b"ff" or (version == b"00" and rest) or trace_id == _NO_TRACE or parent_id == _NO_PARENT:
        return None
    return str(whole.decode("ascii"))


def _list_value(values: list[bytes | str | None]) -> str | None:
    """A tracestate's or baggage's header(s) as one value (several are one list, joined by commas), or None
    when there is none or it is not printable ASCII or longer than MAX_LIST_BYTES."""
    parts = []
    for value in values:
        if value is None:
            continue
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
        text = text.strip(" \t")
        if text:
            parts.append(text)
    joined = ",".join(parts)
    if not joined or len(joined) > MAX_LIST_BYTES or not (joined.isascii() and joined.isprintable()):
        return None
    return joined


def from_headers(headers: RecordHeaders) -> TraceContext | None:
    """The context of a Kafka message's headers (the first traceparent, every tracestate and baggage), or
    None. Cheap for messages without one: one comparison per header."""
    for key, value in headers:
        if key == TRACEPARENT:
            return _context(value, headers)
    return None


def _context(first: bytes | None, headers: RecordHeaders) -> TraceContext | None:
    traceparent = parse_traceparent(first)
    if traceparent is None:
        return None
    if len(headers) == 1:  # the traceparent alone (most messages that carry one)
        return TraceContext(traceparent)
    states: list[bytes | str | None] = []
    baggage: list[bytes | str | None] = []
    for key, value in headers:
        if key == TRACESTATE:
            states.append(value)
        elif key == BAGGAGE:
            baggage.append(value)
    return TraceContext(traceparent, _list_value(states), _list_value(baggage))


def from_carrier(carrier: Mapping[str, object]) -> TraceContext | None:
    """The context of a job's meta (or any mapping under the W3C keys), or None."""
    traceparent = carrier.get(TRACEPARENT)
    if not isinstance(traceparent, str) or (parsed := parse_traceparent(traceparent)) is None:
        return None
    state, baggage = carrier.get(TRACESTATE), carrier.get(BAGGAGE)
    return TraceContext(parsed, _list_value([state]) if isinstance(state, str) else None,
                        _list_value([baggage]) if isinstance(baggage, str) else None)


def from_environment(environ: Mapping[str, str]) -> TraceContext | None:
    """The context a command was started in: TRACEPARENT, TRACESTATE and BAGGAGE, or None."""
    return from_carrier({key: environ[name] for key, name in ENVIRONMENT_KEYS.items() if name in environ})
