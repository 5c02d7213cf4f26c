"""The OpenTelemetry SDK as karafkad runs it, configured by the standard OTEL_* variables (docs/tracing.md).

The SDK reads most of them itself: the sampler (OTEL_TRACES_SAMPLER, parent-based by default), the resource
(OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), the batch processor (OTEL_BSP_*), the OTLP exporter's endpoint,
headers, certificates and compression (OTEL_EXPORTER_OTLP_*). Outside OpenTelemetry's auto-instrumentation
nobody picks the exporter from OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_PROTOCOL: `exporter` does, here. What
karafkad adds: its own service name when none is set, a shorter export timeout when none is set
(defaults.TRACE_EXPORT_TIMEOUT), the exporter wrapped to fail quietly (tracing/exporting.py), exports on the
batch processor's thread (never in a consumer thread), and a bounded last flush.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from karafkad import __version__, defaults
from karafkad.errors import TracingUnavailable
from karafkad.observability import get_logger
from karafkad.tracing.exporting import GuardedExporter, LastError
from karafkad.tracing.jobs import JobSpans
from karafkad.tracing.spans import MessageSpans

log = get_logger(__name__)

TIMEOUT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
DEFAULT_HTTP_ENDPOINT = "http://localhost:4318"
DEFAULT_GRPC_ENDPOINT = "http://localhost:4317"
QUIET_LOGGERS = ("opentelemetry.sdk._shared_internal",)
"""The batch processor's logger: "Queue full, dropping span" for each span it cannot keep while exports fail."""


def exporter(environ: Mapping[str, str]) -> tuple[SpanExporter, str]:
    """The exporter the variables ask for, and where it sends (for the log)."""
    names = [n.strip().lower() for n in environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if n.strip()]
    if names == ["console"]:
        return ConsoleSpanExporter(service_name=None), "stdout"
    if names != ["otlp"]:
        raise TracingUnavailable(f"OTEL_TRACES_EXPORTER={environ.get('OTEL_TRACES_EXPORTER')!r}: karafkad exports "
                                 "to one of otlp (the default) or console")
    protocol = (environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf").strip().lower()
    timeout = None if any(environ.get(name) for name in TIMEOUT_VARIABLES) else defaults.TRACE_EXPORT_TIMEOUT
    if protocol == "http/protobuf":
        # Deferred: only the protocol asked for is imported (each brings its own transport).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        http = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or \
            environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", DEFAULT_HTTP_ENDPOINT).rstrip("/") + "/v1/traces"
        return HttpExporter(timeout=timeout), http
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter as GrpcExporter,  # not in karafkad[otel] (grpcio); installed by the user
            )
        except ImportError:
            raise TracingUnavailable("OTLP over gRPC needs opentelemetry-exporter-otlp-proto-grpc, which "
                                     "karafkad[otel] does not install (it brings grpcio); install it, or use "
                                     "http/protobuf") from None
        grpc = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT",
                                                                               DEFAULT_GRPC_ENDPOINT)
        made: SpanExporter = GrpcExporter(timeout=timeout)
        return made, grpc
    raise TracingUnavailable(f"OTLP protocol {protocol!r}: the Python SDK exports over http/protobuf or grpc")


def resource(service: str, environ: Mapping[str, str]) -> Resource:
    """The SDK's resource (from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES), named `service` unless they say."""
    given = environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",")
    named = bool(environ.get("OTEL_SERVICE_NAME")) or any(part.split("=")[0].strip() == SERVICE_NAME for part in given)
    attributes = {"service.version": __version__}
    return Resource.create(attributes if named else {**attributes, SERVICE_NAME: service})


class Tracing:
    """The running SDK: karafkad's tracer provider, set as the process's global one (for handlers' spans)."""

    def __init__(self, provider: TracerProvider, processor: BatchSpanProcessor, destination: str) -> None:
        self.provider = provider
        self.processor = processor
        self.destination = destination
        """Where spans go (an endpoint, or stdout)."""
        self.jobs = JobSpans(provider.get_tracer("karafkad.worker", __version__))
        """`karafkad worker`'s job spans."""

    @classmethod
    def start(cls, service: str, environ: Mapping[str, str]) -> Tracing:
        """Set up the SDK from `environ`; TracingUnavailable when it asks for what cannot be had."""
        inner, destination = exporter(environ)
        errors = LastError()
        errors.install()
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        processor = BatchSpanProcessor(GuardedExporter(inner, destination, log, errors=errors))
        # No exit hook of the SDK's own (it would wait up to 30 s on a receiver that is down): shutdown() does it.
        provider = TracerProvider(resource=resource(service, environ), shutdown_on_exit=False)
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        return cls(provider, processor, destination)

    def message_spans(self) -> MessageSpans:
        return MessageSpans(self.provider.get_tracer("karafkad", __version__), log)

    def flush(self) -> None:
        """Send the spans made so far, now, in this thread (a worker's work horse, before it exits): at most
        the export timeout, nothing while exports are known to fail (tracing/exporting.py)."""
        self.processor.force_flush()

    def shutdown(self, seconds: float = defaults.TRACE_FLUSH_SECONDS) -> None:
        """Send what is left and stop, waiting at most `seconds` (the SDK's own shutdown waits up to 30 s for
        its export thread; it runs in a thread of its own here, left behind when it takes longer)."""
        stopper = threading.Thread(target=self.provider.shutdown, name="tracing-shutdown", daemon=True)
        stopper.start()
        stopper.join(seconds)
