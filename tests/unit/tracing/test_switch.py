"""tracing/switch.py: tracing on or off from the OTEL_* variables, and never a reason not to run."""

from __future__ import annotations

import subprocess
import sys

import pytest
from structlog.testing import capture_logs

from karafkad.tracing.switch import requested, start_tracing


class TestRequested:
    @pytest.mark.parametrize(("environ", "on"), [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_SERVICE_NAME": "billing"}, False),
    ])
    def test_an_exporter_or_an_endpoint_turns_it_on(self, environ: dict[str, str], on: bool) -> None:
        """Named exporter (not `none`) or OTLP endpoint, unless the SDK is disabled; other variables alone do not."""
        assert requested(environ) is on


class TestStartTracing:
    def test_off_is_nothing_at_all(self) -> None:
        """No variable: None, and not a line."""
        with capture_logs() as logs:
            assert start_tracing("karafkad", {}) is None
        assert logs == []

    def test_asked_for_without_the_sdk_is_one_warning(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The extra is not installed: say how to get it, and run without."""
        monkeypatch.setitem(sys.modules, "karafkad.tracing.sdk", None)  # an import of it raises ImportError
        with capture_logs() as logs:
            assert start_tracing("karafkad", {"OTEL_TRACES_EXPORTER": "otlp"}) is None
        assert [log["log_level"] for log in logs] == ["warning"]
        assert "pip install 'karafkad[otel]'" in logs[0]["event"]

    def test_an_exporter_that_cannot_be_had_is_one_warning(self) -> None:
        """An exporter karafkad does not make (zipkin), or a protocol the SDK has not (http/json)."""
        for environ in ({"OTEL_TRACES_EXPORTER": "zipkin"},
                        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}):
            with capture_logs() as logs:
                assert start_tracing("karafkad", environ) is None
            assert [log["log_level"] for log in logs] == ["warning"] and "tracing is off" in logs[0]["event"]

    def test_off_imports_nothing_of_opentelemetry(self) -> None:
        """The daemon's and the worker's modules, tracing off, import no module of OpenTelemetry (redis-py imports
        its metrics API when it is installed: those are not karafkad's), and none of karafkad's tracing ones that
        use it."""
        code = ("import sys, redis; before = {m for m in sys.modules if m.startswith('opentelemetry')}; "
                "import karafkad.cli.main, karafkad.cli.start, karafkad.cli.worker, karafkad.producer, "
                "karafkad.consuming.consumer; from karafkad.tracing.switch import start_tracing; "
                "start_tracing('karafkad', {}); "
                "print(sorted(m for m in sys.modules if m.startswith('opentelemetry') and m not in before "
                "or m.startswith('karafkad.tracing.') and m.split('.')[-1] not in ('context', 'messages', 'switch', "
                "'current')))")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
        assert result.stdout.split("\n")[0] == "[]"
