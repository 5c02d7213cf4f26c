"""Whether tracing is on, read from the standard OTEL_* variables, and starting it: the SDK is imported only then.

Tracing is on when the environment names an exporter (OTEL_TRACES_EXPORTER, other than `none`) or an OTLP
endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), and OTEL_SDK_DISABLED is not
`true`. Everything else about it is said with OTEL_* variables too (docs/tracing.md), so the routes file has no
tracing section. Tracing asked for but not available (the extra `karafkad[otel]` not installed, an exporter
that is not) is one warning, and the process runs without it: spans are never a reason not to move messages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from karafkad.errors import TracingUnavailable
from karafkad.observability import get_logger

if TYPE_CHECKING:
    from karafkad.tracing.sdk import Tracing

log = get_logger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def requested(environ: Mapping[str, str]) -> bool:
    """Whether the OTEL_* variables of `environ` ask for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return any(environ.get(name) for name in ENDPOINT_VARIABLES)


def start_tracing(service: str, environ: Mapping[str, str] | None = None) -> Tracing | None:
    """The running SDK when the variables ask for traces and it can be had; else None (and, when it was asked for
    but cannot be had, one warning saying why). `service` is the service.name unless the variables name one."""
    environ = os.environ if environ is None else environ
    if not requested(environ):
        return None
    try:
        # Deferred: the SDK (the optional extra karafkad[otel]) is imported only with tracing on.
        from karafkad.tracing.sdk import Tracing
    except ImportError as exc:
        log.warning("the OTEL_* variables ask for traces, but the OpenTelemetry SDK is not installed "
                    "(pip install 'karafkad[otel]'); tracing is off", missing=exc.name)
        return None
    try:
        tracing = Tracing.start(service, environ)
    except TracingUnavailable as exc:
        log.warning(f"tracing is off: {exc}")
        return None
    log.info("tracing on: spans of sampled messages are exported", to=tracing.destination,
             sampler=environ.get("OTEL_TRACES_SAMPLER", "parentbased_always_on"))
    return tracing
