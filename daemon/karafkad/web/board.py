"""The numbers behind the status page, which /status.json serves as they are.

StatusBoard builds one snapshot from the supervisor's status, the metrics
registry (the same counters /metrics shows), rates of those counters and the
RQ queue depths; the daemon publishes it for the deployment's consoles
(publishing.py), and the console's pages render it (overview.py).
Nothing here runs on a consumer thread: counters are
sampled by the main loop's tick and by requests, and Redis is read at most
once a second, by whichever request comes first.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias, TypeVar

import redis
from prometheus_client.metrics import MetricWrapperBase

from karafkad import __version__
from karafkad.config.secrets import registry
from karafkad.errors import KarafkadError
from karafkad.observability import Metrics
from karafkad.supervision.status import StatusSnapshot

RATE_WINDOW = 30.0
"""Seconds of counter history a rate is computed over."""
SAMPLE_INTERVAL = 2.0
"""Least seconds between two samples of the counters."""
MIN_RATE_SPAN = 1.0
"""A rate needs a sample at least this many seconds old."""
QUEUE_READ_INTERVAL = 1.0
"""Least seconds between two reads of the RQ queue depths from Redis."""

K = TypeVar("K")
V = TypeVar("V")
Key: TypeAlias = tuple[str, ...]
"""A counter series the sampler tracks: (what, group, route or topic)."""


# --- the numbers ----------------------------------------------------------------------------------


def _samples(metric: MetricWrapperBase, suffix: str = "") -> Iterator[tuple[dict[str, str], float]]:
    """(labels, value) of each series of a metric; `suffix` "_total" for a counter's value."""
    for family in metric.collect():
        for sample in family.samples:
            if sample.name == family.name + suffix:
                yield sample.labels, sample.value


@dataclass
class Readings:
    """The metrics the page shows, read once from the registry."""

    consumed: dict[tuple[str, str], float] = field(default_factory=dict)
    """(group, topic) -> messages consumed."""
    redelivered: dict[tuple[str, str], float] = field(default_factory=dict)
    enqueued: dict[tuple[str, str], float] = field(default_factory=dict)
    """(group, route) -> jobs, over every queue."""
    skipped: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    """(group, route) -> reason -> messages."""
    dead_lettered: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    """(group, route) -> kind -> messages."""
    lag: dict[tuple[str, str, int], float] = field(default_factory=dict)
    paused: dict[tuple[str, str], float] = field(default_factory=dict)
    """(group, thread index) -> partitions paused."""
    backpressure: dict[str, dict[str, float]] = field(default_factory=dict)
    reloads: dict[str, float] = field(default_factory=dict)

    @classmethod
    def read(cls, metrics: Metrics) -> Readings:
        out = cls()
        for labels, value in _samples(metrics.consumed, "_total"):
            out.consumed[(labels["group"], labels["topic"])] = value
        for labels, value in _samples(metrics.redelivered, "_total"):
            out.redelivered[(labels["group"], labels["topic"])] = value
        for labels, value in _samples(metrics.enqueued, "_total"):
            key = (labels["group"], labels["route"])
            out.enqueued[key] = out.enqueued.get(key, 0.0) + value
        for labels, value in _samples(metrics.skipped, "_total"):
            out.skipped.setdefault((labels["group"], labels["route"]), {})[labels["reason"]] = value
        for labels, value in _samples(metrics.dead_lettered, "_total"):
            out.dead_lettered.setdefault((labels["group"], labels["route"]), {})[labels["kind"]] = value
        for labels, value in _samples(metrics.lag):
            out.lag[(labels["group"], labels["topic"], int(labels["partition"]))] = value
        for labels, value in _samples(metrics.paused):
            out.paused[(labels["group"], labels["thread"])] = value
        for labels, value in _samples(metrics.backpressure, "_total"):
            out.backpressure.setdefault(labels["group"], {})[labels["reason"]] = value
        for labels, value in _samples(metrics.reloads, "_total"):
            out.reloads[labels["result"]] = value
        return out

    def totals(self) -> dict[Key, float]:
        """The counters whose rates the page shows."""
        out: dict[Key, float] = {("consumed", *k): v for k, v in self.consumed.items()}
        out.update({("enqueued", *k): v for k, v in self.enqueued.items()})
        out.update({("skipped", *k): sum(v.values()) for k, v in self.skipped.items()})
        out.update({("dead_lettered", *k): sum(v.values()) for k, v in self.dead_lettered.items()})
        return out


class RateSampler:
    """Per-second rates of counters over the last `window` seconds, from samples at most every `interval`."""

    def __init__(self, window: float = RATE_WINDOW, interval: float = SAMPLE_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.interval = interval
        self.clock = clock
        self._samples: deque[tuple[float, Mapping[Key, float]]] = deque()
        self._lock = threading.Lock()

    def due(self) -> bool:
        with self._lock:
            return not self._samples or self.clock() - self._samples[-1][0] >= self.interval

    def add(self, values: Mapping[Key, float]) -> None:
        """Keep `values` as a sample if the last one is `interval` old; forget samples beyond the window."""
        now = self.clock()
        with self._lock:
            if not self._samples or now - self._samples[-1][0] >= self.interval:
                self._samples.append((now, dict(values)))
            while len(self._samples) > 1 and now - self._samples[0][0] > self.window:
                self._samples.popleft()

    def rates(self, values: Mapping[Key, float]) -> tuple[dict[Key, float], float | None]:
        """Rates of `values` (read now) since the oldest sample in the window, and that span in seconds.

        No rates (and span None) until a sample is MIN_RATE_SPAN old. A series
        absent from the old sample was created since, so it started at 0.
        """
        now = self.clock()
        with self._lock:
            base = next(((at, old) for at, old in self._samples if now - at <= self.window), None)
        if base is None or now - base[0] < MIN_RATE_SPAN:
            return {}, None
        span = now - base[0]
        return {key: max(value - base[1].get(key, 0.0), 0.0) / span for key, value in values.items()}, span


class ThrottledRead(Generic[K, V]):
    """A value read from Redis at most once per `interval` whoever asks: one reader at a time, the others then
    get its answer; a failure is an answer too (`failed` makes it). A new key is read at once."""

    def __init__(self, interval: float = QUEUE_READ_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._answer: tuple[K, V] | None = None

    def get(self, key: K, read: Callable[[K], V], failed: Callable[[Exception], V]) -> V:
        with self._lock:
            now = self.clock()
            answer = self._answer
            if answer is None or self._read_at is None or now - self._read_at >= self.interval or answer[0] != key:
                try:
                    answer = (key, read(key))
                except (KarafkadError, redis.RedisError, OSError) as exc:
                    answer = (key, failed(exc))
                self._read_at, self._answer = now, answer
            return answer[1]


class QueueDepths:
    """RQ queue depths, read from Redis at most once per `interval` whoever asks; a failure is an answer too."""

    def __init__(self, read: Callable[[Sequence[str]], Mapping[str, int]], interval: float = QUEUE_READ_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.read = read
        self._reads: ThrottledRead[tuple[str, ...], tuple[dict[str, int] | None, str | None]] = (
            ThrottledRead(interval, clock))

    def get(self, queues: Sequence[str]) -> tuple[dict[str, int] | None, str | None]:
        """(depth per queue, None), or (None, why Redis could not be read)."""
        return self._reads.get(tuple(queues), lambda wanted: (dict(self.read(wanted)), None),
                               lambda exc: (None, registry.mask(str(exc) or type(exc).__name__)))


def _partition(name: str) -> tuple[str, int]:
    """"orders[3]" -> ("orders", 3), the form the supervisor's status names partitions in."""
    topic, _, number = name.rpartition("[")
    return topic, int(number.rstrip("]"))


def _paused(name: str, by_operator: set[str], thread: Any) -> str | None:
    """Why a partition is paused: "operator" (an operator paused it: it stays so), "backpressure" (its thread
    waits with every partition paused), or None (flowing; a held one says so under "held")."""
    if name in by_operator:
        return "operator"
    return "backpressure" if thread.get("paused") else None


class StatusBoard:
    """The snapshot behind /status.json and the page at /."""

    def __init__(self, status: Callable[[], StatusSnapshot], metrics: Metrics,
                 queue_lengths: Callable[[Sequence[str]], Mapping[str, int]], *,
                 operations: Callable[[], list[dict[str, Any]]] | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.status = status
        self.metrics = metrics
        self.sampler = RateSampler(clock=clock)
        self.depths = QueueDepths(queue_lengths, clock=clock)
        self.operations = operations
        """The recent operator commands (replays, re-drives: store/events.py), read from Redis."""
        self.clock = clock
        self.wall = wall
        self._operations: ThrottledRead[tuple[()], list[dict[str, Any]]] = ThrottledRead(clock=clock)

    def recent_operations(self) -> list[dict[str, Any]]:
        """The operator events, read at most once per QUEUE_READ_INTERVAL (none when Redis does not answer)."""
        operations = self.operations
        if operations is None:
            return []
        return self._operations.get((), lambda _: operations(), lambda _: [])

    def tick(self) -> None:
        """Sample the counters if due (the main loop calls this often; it is cheap when not due)."""
        if self.sampler.due():
            self.sampler.add(Readings.read(self.metrics).totals())

    def snapshot(self) -> dict[str, Any]:
        """The supervisor's status plus every number the page shows."""
        base = self.status()
        readings = Readings.read(self.metrics)
        totals = readings.totals()
        self.sampler.add(totals)
        rates, span = self.sampler.rates(totals)
        now = self.wall()
        routes: list[dict[str, Any]] = []
        for route in base.get("routes", []):
            group, name = route["group"], route["name"]
            topics = [(group, t) for t in route["topics"]]
            routes.append({
                **route,
                "consumed": sum(readings.consumed.get(k, 0.0) for k in topics),
                "enqueued": readings.enqueued.get((group, name), 0.0),
                "skipped": readings.skipped.get((group, name), {}),
                "dead_lettered": readings.dead_lettered.get((group, name), {}),
                "rates": None if span is None else {
                    "consumed": sum(rates.get(("consumed", *k), 0.0) for k in topics),
                    **{what: rates.get((what, group, name), 0.0) for what in ("enqueued", "skipped", "dead_lettered")},
                },
            })
        partitions = []
        for group, info in base.get("groups", {}).items():
            for thread in info.get("threads", []):
                held = {h["partition"]: h for h in thread.get("held", [])}
                by_operator = set(thread.get("operator_paused", []))
                for name in thread.get("partitions", []):
                    topic, number = _partition(name)
                    partitions.append({"group": group, "thread": thread["name"], "topic": topic, "partition": number,
                                       "lag": readings.lag.get((group, topic, number)),
                                       "paused": _paused(name, by_operator, thread), "held": held.get(name),
                                       "waiting": thread.get("waiting")})
        depths, error = self.depths.get(sorted({r["queue"] for r in routes}))
        return {
            **base,
            "version": __version__,
            "generated_at": now,
            "uptime": max(now - base["started_at"], 0.0) if "started_at" in base else None,
            "rate_window": span,
            "routes": routes,
            "topics": [{"group": g, "topic": t, "consumed": v, "redelivered": readings.redelivered.get((g, t), 0.0),
                        "rate": rates.get(("consumed", g, t)) if span is not None else None}
                       for (g, t), v in sorted(readings.consumed.items())
                       if any(r["group"] == g and t in r["topics"] for r in routes)],  # not a removed route's
            "partitions": partitions,
            "queues": {"depths": depths, "error": error},
            "backpressure": readings.backpressure,
            "reloads": readings.reloads,
            "recent": self.metrics.recent.snapshot(),
            "operations": self.recent_operations(),
        }
