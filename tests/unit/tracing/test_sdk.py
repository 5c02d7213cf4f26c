"""tracing/sdk.py: the exporter and resource the OTEL_* variables ask for (the SDK is not started here: it would
set this process's global tracer provider)."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from karafkad import defaults
from karafkad.errors import TracingUnavailable
from karafkad.tracing.sdk import exporter, resource


class TestExporter:
    def test_otlp_over_http_is_the_default_with_karafkad_s_timeout(self) -> None:
        """OTLP over http/protobuf to the endpoint's /v1/traces; without a timeout variable, TRACE_EXPORT_TIMEOUT."""
        made, where = exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
        assert isinstance(made, OTLPSpanExporter) and where == "http://collector:4318/v1/traces"
        assert made._client._timeout == defaults.TRACE_EXPORT_TIMEOUT

    def test_a_timeout_variable_is_the_sdk_s_to_read(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """OTEL_EXPORTER_OTLP_TIMEOUT set: karafkad passes none of its own (the SDK reads the process's
        environment)."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "7")
        made, _ = exporter({"OTEL_EXPORTER_OTLP_TIMEOUT": "7"})
        assert isinstance(made, OTLPSpanExporter) and made._client._timeout == 7

    def test_the_traces_endpoint_is_taken_as_it_is(self) -> None:
        """OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is the full URL (the SDK adds no path to it)."""
        _, where = exporter({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://c:443/traces"})
        assert where == "https://c:443/traces"

    def test_console_prints_spans(self) -> None:
        """OTEL_TRACES_EXPORTER=console: each span on stdout (trying it out)."""
        assert isinstance(exporter({"OTEL_TRACES_EXPORTER": "console"})[0], ConsoleSpanExporter)

    @pytest.mark.parametrize("environ", [{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
                                         {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
                                         {"OTEL_TRACES_EXPORTER": "otlp,console"}])
    def test_what_cannot_be_had_says_why(self, environ: dict[str, str]) -> None:
        """gRPC without its exporter installed, http/json, several exporters: TracingUnavailable."""
        with pytest.raises(TracingUnavailable):
            exporter(environ)


class TestResource:
    def test_karafkad_names_the_service_unless_the_variables_do(self) -> None:
        """service.name is `service`, unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES give one."""
        assert resource("karafkad", {}).attributes["service.name"] == "karafkad"
        assert resource("karafkad", {}).attributes["service.version"]
        for environ in ({"OTEL_SERVICE_NAME": "billing-router"},
                        {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod, service.name=billing-router"}):
            assert resource("karafkad", environ).attributes.get("service.name") != "karafkad"
