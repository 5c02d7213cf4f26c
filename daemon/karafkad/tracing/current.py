"""The running OpenTelemetry context as Kafka headers: an application's trace continues through what it sends.

karafkad.producer adds them to each message whose headers have no traceparent of their own, sent inside a span,
with the application's propagators (W3C trace context and baggage unless OTEL_PROPAGATORS says otherwise). A
process that has not imported OpenTelemetry's tracing API has no span to pass on: then nothing is looked at or
imported. (redis-py imports parts of OpenTelemetry when it is installed, so "imported" alone says nothing: the
current span does.)
"""

from __future__ import annotations

import sys

from karafkad.tracing.context import TRACEPARENT


def with_current_context(headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """`headers`, and after them the current context's, unless there is none or they carry a traceparent."""
    if "opentelemetry.trace" not in sys.modules or any(key == TRACEPARENT for key, _ in headers):
        return headers
    # Deferred: imported already (the check above); karafkad itself does not import it otherwise.
    from opentelemetry.trace import get_current_span

    if not get_current_span().get_span_context().is_valid:
        return headers
    from opentelemetry.propagate import inject  # the application's propagators, set up once

    carrier: dict[str, str] = {}
    inject(carrier)
    if not carrier:
        return headers
    return [*headers, *((key, value.encode("utf-8")) for key, value in carrier.items())]
