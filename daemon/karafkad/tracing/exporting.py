"""The span exporter wrapped so that a receiver that is down costs one warning line and almost no time.

The SDK's OTLP exporter, left alone, logs three warnings and an error per failed batch (every few seconds for
as long as the collector is down) and retries each batch until its timeout. Wrapped here: its own log lines are
kept back (the last one is the reason given in ours); the first failure logs one warning, the first success
after it one line saying exports work again; meanwhile batches are dropped without a try, and one is tried
every TRACE_RETRY_SECONDS. Exports run on the SDK's batch thread, never in a consumer thread, so nothing of
this delays a message either way.

The failing state lives in a page of shared memory, so the work horses a `karafkad worker` forks per job see
it too: one warning for an outage, whichever process meets it, and a horse does not wait on a collector
another one already found down.
"""

from __future__ import annotations

import logging
import mmap
import struct
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from structlog.typing import FilteringBoundLogger

from karafkad import defaults

EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
)
"""Where the SDK's exporters log each failed batch (the gRPC ones only when that exporter is installed)."""

_STATE = struct.Struct("dd")
"""failing since, last tried (monotonic seconds; 0: not failing)."""


class ExportState:
    """Whether exports fail, shared with every process forked after it was made."""

    def __init__(self) -> None:
        self._page = mmap.mmap(-1, _STATE.size)  # anonymous and shared: a fork writes to the same page

    def read(self) -> tuple[float, float]:
        since, tried = _STATE.unpack_from(self._page)
        return float(since), float(tried)

    def failing(self, since: float, tried: float) -> None:
        _STATE.pack_into(self._page, 0, since, tried)

    def working(self) -> None:
        _STATE.pack_into(self._page, 0, 0.0, 0.0)


class LastError(logging.Filter):
    """Keeps back an exporter's log lines, remembering the last (the reason an export failed)."""

    def __init__(self) -> None:
        super().__init__()
        self.message = ""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            self.message = record.getMessage()
        return False

    def install(self) -> None:
        for name in EXPORTER_LOGGERS:
            logging.getLogger(name).addFilter(self)


class GuardedExporter(SpanExporter):
    """An exporter that fails quietly (see the module docstring)."""

    def __init__(self, inner: SpanExporter, endpoint: str, log: FilteringBoundLogger, *,
                 retry_seconds: float = defaults.TRACE_RETRY_SECONDS, state: ExportState | None = None,
                 errors: LastError | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.inner = inner
        self.endpoint = endpoint
        self.log = log
        self.retry_seconds = retry_seconds
        self.state = state or ExportState()
        self.errors = errors or LastError()
        self.clock = clock
        self.dropped = 0
        """Spans this process lost (failed or dropped untried) since exports last worked."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        now = self.clock()
        since, tried = self.state.read()
        if since and now - tried < self.retry_seconds:
            self.dropped += len(spans)
            return SpanExportResult.FAILURE
        if since:
            self.state.failing(since, now)
        self.errors.message = ""
        try:
            result = self.inner.export(spans)
        except Exception as exc:  # the SDK's or the network's: never let it out of the batch thread
            self.errors.message = f"{type(exc).__name__}: {exc}"
            result = SpanExportResult.FAILURE
        since, _ = self.state.read()  # another process may have seen it change meanwhile
        if result is SpanExportResult.SUCCESS:
            if since:
                self.state.working()
                self.log.info("trace export works again", endpoint=self.endpoint,
                              failing_for_seconds=round(now - since, 1), spans_dropped=self.dropped)
            self.dropped = 0
        elif not since:
            self.state.failing(now, now)
            self.dropped += len(spans)
            self.log.warning("cannot export spans; they are dropped until the trace receiver answers (messages and "
                             "jobs are not affected)", endpoint=self.endpoint,
                             error=self.errors.message or "the exporter gave no reason",
                             retry_every_seconds=self.retry_seconds)
        else:
            self.dropped += len(spans)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
