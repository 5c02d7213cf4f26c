"""Logs and metrics: structlog set up once, Prometheus counters in one place.

Logs are JSON lines when stderr is not a terminal (journald, files) and a
readable console format when it is. Metrics live in their own registry so
tests (and two daemons in one process) never share counters.
"""

from __future__ import annotations

import collections
import logging
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger

from karafkad.config.secrets import registry

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class SecretMasker:
    """A log processor: masks every known secret value and every URL password in any field.

    A safety net under config.secrets.Secret (which already prints as ***): a
    password that reaches a log line inside an error message, a URL or a list
    is masked too. Cheap: one search with the registry's precompiled pattern
    per string field that could hold one.
    """

    _MAX_DEPTH = 4

    def _value(self, value: Any, pattern: re.Pattern[str] | None, depth: int) -> Any:
        if isinstance(value, str):
            return registry.mask(value) if pattern is not None or "://" in value or "=" in value else value
        if depth >= self._MAX_DEPTH:
            return value
        if isinstance(value, dict):
            return {k: self._value(v, pattern, depth + 1) for k, v in value.items()}
        if type(value) in (list, tuple):  # exactly: a named tuple's constructor takes its fields, not an iterable
            return type(value)(self._value(v, pattern, depth + 1) for v in value)
        if isinstance(value, BaseException):
            return registry.mask(f"{type(value).__name__}: {value}")
        return value

    def __call__(self, logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
        pattern = registry.pattern
        for key, value in event_dict.items():
            if not key.startswith("_"):  # structlog's own bookkeeping (_record, _from_structlog)
                event_dict[key] = self._value(value, pattern, 0)
        return event_dict


mask_secrets = SecretMasker()
"""The processor configure_logging puts just before the renderer."""


class LineWriter:
    """structlog's logger: each rendered line written whole (line and newline in one write) under `lock`, the
    lock the stdlib handler of kafka-python's and RQ's lines holds too. structlog's PrintLogger and a stdlib
    StreamHandler each lock the stream with a lock of their own, and print() writes the newline apart: a
    kafka-python line once landed between one of ours and its newline, two JSON objects on one line."""

    def __init__(self, stream: TextIO, lock: threading.RLock) -> None:
        self.stream, self.lock = stream, lock

    def msg(self, message: str) -> None:
        with self.lock:
            self.stream.write(message + "\n")
            self.stream.flush()

    debug = info = warning = warn = error = err = critical = exception = fatal = failure = log = msg


class SharedLockHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stdlib's StreamHandler (one write a line), locked with the LineWriter's lock."""

    def __init__(self, stream: TextIO, lock: threading.RLock) -> None:
        super().__init__(stream)
        self.lock = lock


def configure_logging(log_format: str = "auto", level: str = "info", stream: TextIO | None = None,
                      log_filters: Sequence[logging.Filter] = ()) -> None:
    """Route structlog (and the stdlib loggers of kafka-python and RQ) to one stream, secrets masked.

    `log_filters` go on the handler of the stdlib loggers (the runtime passes
    one that turns kafka-python's refused-login lines into one of its own).
    """
    stream = stream or sys.stderr
    lock = threading.RLock()  # one lock for every line written to the stream (LineWriter says why)
    writer = LineWriter(stream, lock)
    use_console = log_format == "console" or (log_format == "auto" and stream.isatty())
    renderer: Processor = (structlog.dev.ConsoleRenderer(colors=stream.isatty()) if use_console
                           else structlog.processors.JSONRenderer())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Both chains end alike, so kafka-python's lines are masked exactly as karafkad's own.
    tail: list[Processor] = [structlog.processors.format_exc_info, mask_secrets, renderer]
    structlog.configure(
        processors=[*shared, *tail],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=lambda *args: writer,
        cache_logger_on_first_use=False,
    )
    # kafka-python logs through the stdlib; keep its warnings, drop its chatter.
    handler = SharedLockHandler(stream, lock)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name]))
    for log_filter in log_filters:
        handler.addFilter(log_filter)
    verbose = _LEVELS[level] <= logging.DEBUG
    logging.getLogger("kafka.net.sasl").setLevel(logging.DEBUG if verbose else logging.WARNING)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.INFO if verbose else logging.ERROR)


def get_logger(name: str) -> FilteringBoundLogger:
    """A structlog logger (its configuration is configure_logging's); each module takes its own, named for it:
    `log = get_logger(__name__)`."""
    logger: FilteringBoundLogger = structlog.get_logger(name)
    return logger


class RecentErrors:
    """The last few problems (skips with a reason, outages), for the status page."""

    def __init__(self, size: int = 50) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        """How many items are kept: adding more than this at once keeps only the last ones."""
        return self._items.maxlen or 0

    def add(self, kind: str, message: str, **fields: Any) -> None:
        with self._lock:
            self._items.appendleft({"time": time.time(), "kind": kind, "message": message, **fields})

    def extend(self, items: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Add (kind, message, fields) items, in order, under one lock and one timestamp (a batch's problems)."""
        if not items:
            return
        now = time.time()
        with self._lock:
            self._items.extendleft({"time": now, "kind": kind, "message": message, **fields}
                                   for kind, message, fields in items[-self.capacity:])

    def snapshot(self) -> list[dict[str, Any]]:
        """The items, newest first, secrets masked. Masking here rather than in add(): a flood of bad
        input adds an item per dead letter, while the status page asks for the last 50 now and then."""
        with self._lock:
            items = list(self._items)
        return [{**item, "message": registry.mask(item["message"])} for item in items]


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
        self.lag = Gauge("karafkad_consumer_lag",
                         "Messages that can be consumed and are not yet committed, per partition (against the last "
                         "stable offset under read_committed, the log end otherwise).",
                         ["group", "topic", "partition"], registry=r)
        self.paused = Gauge("karafkad_paused_partitions", "Partitions paused by backpressure, per consumer thread.",
                            ["group", "thread"], registry=r)
        self.held = Gauge("karafkad_held_partitions",
                          "Partitions held at a batch the client cannot read (1 while held), per partition.",
                          ["group", "topic", "partition"], registry=r)
        self.held_keys = Gauge("karafkad_held_keys",
                               "Keys of an ordered route whose later jobs wait behind a job that failed for good "
                               "(karafkad held list), per route; read every few seconds.",
                               ["group", "route"], registry=r)
        self.unreadable = Counter("karafkad_unreadable_batches", "Fetched batches the client could not read.",
                                  ["group", "topic"], registry=r)
        self.backpressure = Counter("karafkad_backpressure_events", "Times consuming paused, by reason.",
                                    ["group", "reason"], registry=r)
        self.commit_failures = Counter("karafkad_commit_failures", "Offset commits that failed (retried).",
                                       ["group"], registry=r)
        self.commits = Counter("karafkad_offset_commits", "Offset commit requests sent to the group coordinator "
                               "(its load: docs/scaling.md).", ["group"], registry=r)
        self.reloads = Counter("karafkad_reloads", "SIGHUP reloads, by result.", ["result"], registry=r)
        self.assigned = Gauge("karafkad_assigned_partitions", "Partitions assigned, per consumer thread.",
                              ["group", "thread"], registry=r)
        self.recent = RecentErrors()


class SkipLog:
    """At most `burst` "message skipped" lines per route per window, then one summary line.

    Every skip is counted in metrics regardless; this only keeps a flood of
    bad input from turning the log into the bottleneck.
    """

    def __init__(self, burst: int = 10, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = burst
        self.window = window
        self.clock = clock
        self._started: dict[str, float] = {}
        self._logged: collections.Counter[str] = collections.Counter()
        self._suppressed: collections.Counter[str] = collections.Counter()

    def allow(self, route: str) -> bool:
        now = self.clock()
        if now - self._started.get(route, -self.window) >= self.window:
            self._started[route] = now
            self._logged[route] = 0
        if self._logged[route] < self.burst:
            self._logged[route] += 1
            return True
        self._suppressed[route] += 1
        return False

    def summaries(self) -> list[tuple[str, int]]:
        """(route, lines suppressed) for routes whose window has ended."""
        now = self.clock()
        done = [(r, n) for r, n in self._suppressed.items() if n and now - self._started[r] >= self.window]
        for route, _ in done:
            del self._suppressed[route]
        return done
