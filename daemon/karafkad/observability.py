"""Logs and metrics: structlog set up once, Prometheus counters in one place.

Logs are JSON lines when stderr is not a terminal (journald, files) and a
readable console format when it is. Metrics live in their own registry so
tests (and two daemons in one process) never share counters.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(log_format: str = "auto", level: str = "info", stream: Any = None) -> None:
    """Route structlog (and the stdlib loggers of kafka-python and RQ) to one stream."""
    stream = stream or sys.stderr
    use_console = log_format == "console" or (log_format == "auto" and stream.isatty())
    renderer: Any = (structlog.dev.ConsoleRenderer(colors=stream.isatty()) if use_console
                     else structlog.processors.JSONRenderer())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # kafka-python logs through the stdlib; keep its warnings, drop its chatter.
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processor=renderer, foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if _LEVELS[level] > logging.DEBUG else logging.DEBUG)
    logging.getLogger("kafka").setLevel(logging.ERROR if _LEVELS[level] > logging.DEBUG else logging.INFO)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


class RecentErrors:
    """The last few problems (skips with a reason, outages), for the status page."""

    def __init__(self, size: int = 50) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, kind: str, message: str, **fields: Any) -> None:
        with self._lock:
            self._items.appendleft({"time": time.time(), "kind": kind, "message": message, **fields})

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items)


class Metrics:
    """Every Prometheus metric karafkad exports (see docs/operations.md)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.consumed = Counter("karafkad_messages_consumed", "Messages polled from Kafka.",
                                ["group", "topic"], registry=r)
        self.enqueued = Counter("karafkad_jobs_enqueued", "RQ jobs written to Redis.",
                                ["group", "route", "queue"], registry=r)
        self.skipped = Counter("karafkad_messages_skipped",
                               "Messages a route deliberately made no job of, by reason.",
                               ["group", "route", "reason"], registry=r)
        self.dead_lettered = Counter("karafkad_dead_letters", "Messages sent to a dead-letter topic, by kind.",
                                     ["group", "route", "kind"], registry=r)
        self.redelivered = Counter("karafkad_redelivered",
                                   "Messages seen again after a crash or rebalance and not enqueued twice.",
                                   ["group", "topic"], registry=r)
        self.enqueue_seconds = Histogram("karafkad_enqueue_seconds", "Time of one batch's Redis write.",
                                         ["group"], registry=r,
                                         buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
        self.batch_size = Histogram("karafkad_batch_size", "Messages per polled batch.", ["group"], registry=r,
                                    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500))
        self.lag = Gauge("karafkad_consumer_lag", "Messages behind the log end, per partition.",
                         ["group", "topic", "partition"], registry=r)
        self.paused = Gauge("karafkad_paused_partitions", "Partitions paused by backpressure, per consumer thread.",
                            ["group", "thread"], registry=r)
        self.backpressure = Counter("karafkad_backpressure_events", "Times consuming paused, by reason.",
                                    ["group", "reason"], registry=r)
        self.commit_failures = Counter("karafkad_commit_failures", "Offset commits that failed (retried).",
                                       ["group"], registry=r)
        self.reloads = Counter("karafkad_reloads", "SIGHUP reloads, by result.", ["result"], registry=r)
        self.assigned = Gauge("karafkad_assigned_partitions", "Partitions assigned, per consumer thread.",
                              ["group", "thread"], registry=r)
        self.recent = RecentErrors()
