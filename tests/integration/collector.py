"""The OpenTelemetry Collector the tracing tests export to (scripts/otelcol), and the spans it wrote.

The collector is a real one (its OTLP receiver, and a file exporter writing each batch it receives as a line of
OTLP JSON); scripts/test starts it early in the background, as its first build takes minutes, and `start` here
waits for that (scripts/otelcol runs one build and one start at a time).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import KAFKA_PORT, script, wait_for

HTTP_PORT = int(os.environ.get("KARAFKAD_OTLP_HTTP_PORT", KAFKA_PORT + 201))
"""The collector's OTLP/HTTP port (scripts/lib.sh: the Kafka port + 201 unless set)."""
BUILD_SECONDS = 900
"""Longest a first build of the collector may take on two busy cores (4-5 CPU-minutes, scripts/otelcol)."""


@dataclass(frozen=True)
class Span:
    """One exported span, flattened from OTLP JSON."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    """OTLP's numbers: 1 internal, 2 server, 3 client, 4 producer, 5 consumer."""
    attributes: dict[str, Any]
    status: dict[str, Any]
    service: str


def _value(value: dict[str, Any]) -> Any:
    (kind, content), = value.items()
    if kind == "intValue":
        return int(content)
    if kind == "arrayValue":
        return [_value(v) for v in content.get("values", [])]
    return content


class Collector:
    """scripts/otelcol's collector, for one test module."""

    def start(self) -> Collector:
        script("otelcol", "start", timeout=BUILD_SECONDS)
        self.path = Path(script("otelcol", "spans").stdout.strip())
        return self

    def environment(self, **more: str) -> dict[str, str]:
        """The OTEL_* variables of a karafkad that exports here: batches sent every 0.1 s (not 5 s)."""
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{HTTP_PORT}", "OTEL_BSP_SCHEDULE_DELAY": "100",
                **more}

    def spans(self) -> list[Span]:
        out = []
        for line in self.path.read_text().splitlines():
            for resource in json.loads(line).get("resourceSpans", []):
                attributes = {a["key"]: _value(a["value"]) for a in resource["resource"].get("attributes", [])}
                for scope in resource.get("scopeSpans", []):
                    out += [Span(s["traceId"], s["spanId"], s.get("parentSpanId", ""), s["name"], s["kind"],
                                 {a["key"]: _value(a["value"]) for a in s.get("attributes", [])}, s.get("status", {}),
                                 attributes.get("service.name", "")) for s in scope.get("spans", [])]
        return out

    def trace(self, trace_id: str) -> list[Span]:
        return [span for span in self.spans() if span.trace_id == trace_id]

    def wait_for(self, trace_id: str, count: int, timeout: float = 30) -> list[Span]:
        """The trace's spans once there are at least `count` of them."""
        wait_for(lambda: len(self.trace(trace_id)) >= count, timeout, f"{count} spans of trace {trace_id} exported")
        return self.trace(trace_id)


def new_context(sampled: bool = True) -> tuple[str, str, str]:
    """A fresh W3C traceparent, as a producer karafkad did not write would send (kcat -H): (traceparent, trace id,
    parent span id)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}", trace_id, span_id
