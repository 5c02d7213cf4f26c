"""A traced application's producer, which karafkad did not write: run as a script by tests/integration/test_tracing.py.

    python traced_producer.py BOOTSTRAP TOPIC VALUE...

Inside a span `checkout`, sends each VALUE with kafka-python instrumented by OpenTelemetry's own
kafka-python instrumentation (which makes a PRODUCER span per message and puts its context in the message's
`traceparent` header), exports its spans over OTLP as the OTEL_* variables say, and prints the trace id and the
checkout span's id as JSON.
"""

from __future__ import annotations

import json
import sys

from kafka import KafkaProducer
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.kafka import KafkaInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor


def main(bootstrap: str, topic: str, values: list[str]) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout-service"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    KafkaInstrumentor().instrument()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    with trace.get_tracer("checkout").start_as_current_span("checkout") as span:
        for value in values:
            producer.send(topic, value.encode())
        producer.flush()
    producer.close()
    provider.shutdown()
    context = span.get_span_context()
    print(json.dumps({"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
