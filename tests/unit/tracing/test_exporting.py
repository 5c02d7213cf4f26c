"""tracing/exporting.py: a receiver that is down costs one warning, and no wait once it is known to be down."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from structlog.testing import capture_logs

from karafkad.observability import get_logger
from karafkad.tracing.exporting import EXPORTER_LOGGERS, ExportState, GuardedExporter, LastError

SPANS = [ReadableSpan("a"), ReadableSpan("b")]


class FakeExporter(SpanExporter):
    """Fails while `down`, logging as the SDK's exporter does; counts its tries."""

    def __init__(self) -> None:
        self.down = False
        self.tries = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.tries += 1
        if self.down:
            logging.getLogger(EXPORTER_LOGGERS[0]).error("Failed to export spans batch code: %s", "refused")
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _guarded(inner: FakeExporter, clock: Clock) -> GuardedExporter:
    errors = LastError()
    errors.install()
    return GuardedExporter(inner, "http://collector:4318/v1/traces", get_logger("test"), retry_seconds=5,
                           errors=errors, clock=clock)


class TestGuardedExporter:
    def test_an_outage_is_one_warning_then_one_line_when_it_ends(self) -> None:
        """The first failure warns (with the exporter's own reason, its line kept back); the batches after it
        within the retry interval are dropped untried; the first success after it says so, once."""
        inner, clock = FakeExporter(), Clock()
        exporter = _guarded(inner, clock)
        inner.down = True
        with capture_logs() as logs:
            assert exporter.export(SPANS) is SpanExportResult.FAILURE
            for _ in range(3):
                clock.now += 1
                assert exporter.export(SPANS) is SpanExportResult.FAILURE
            assert inner.tries == 1
            clock.now += 5
            exporter.export(SPANS)  # tried again after the interval, still down: no new line
            assert inner.tries == 2
            inner.down = False
            clock.now += 5
            assert exporter.export(SPANS) is SpanExportResult.SUCCESS
            exporter.export(SPANS)
        assert [(log["log_level"], log["event"].split(";")[0]) for log in logs] == [
            ("warning", "cannot export spans"), ("info", "trace export works again")]
        assert logs[0]["error"] == "Failed to export spans batch code: refused"
        assert logs[1]["spans_dropped"] == 10  # every batch of the outage, tried or not

    def test_an_exception_in_the_exporter_is_a_failure(self) -> None:
        """Nothing the exporter raises leaves the batch thread."""
        class Raising(FakeExporter):
            def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
                raise OSError("network")

        with capture_logs() as logs:
            assert _guarded(Raising(), Clock()).export(SPANS) is SpanExportResult.FAILURE
        assert logs[0]["error"] == "OSError: network"

    def test_the_state_is_shared_with_forked_processes(self) -> None:
        """A work horse that finds the receiver down tells its worker and the horses after it."""
        state = ExportState()
        child = os.fork()
        if child == 0:  # the horse
            state.failing(42.0, 43.0)
            os._exit(0)
        os.waitpid(child, 0)
        assert state.read() == (42.0, 43.0)
        state.working()
        assert state.read() == (0.0, 0.0)
