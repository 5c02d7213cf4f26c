"""Stand-ins for what the consumer loop writes to (the store's enqueuer, the dead-letter sender), and the loop's
units put together small, for tests/unit/consuming and tests/integration/test_writes_in_flight.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kafka import TopicPartition
from kafka_fakes import FakeConsumer
from tables import make_table

from karafkad.config.settings import DaemonSettings, JobOptions, KafkaSettings
from karafkad.consuming.backpressure import QueueGate
from karafkad.consuming.consumer import ConsumerThread
from karafkad.consuming.delivery import DeliveryLine, Finished, RetryLater
from karafkad.consuming.pausing import Pauser
from karafkad.consuming.services import ConsumerFactory, Services
from karafkad.errors import DeadLetterError, EnqueueError
from karafkad.observability import Metrics, get_logger
from karafkad.pipeline.outcomes import JobNaming, PartitionBatch, PendingJob
from karafkad.routes.jobs import JobTemplate, build_template
from karafkad.store.enqueuer import PartitionWrite, WriteResult
from karafkad.store.marks import PartitionMarks
from karafkad.store.replays import ReplayWindow

TP0 = TopicPartition("t", 0)
TP1 = TopicPartition("t", 1)

MarkKey = tuple[Any, ...]
"""(group, topic, partition) for the group's own mark, (group, topic, partition, stream) for a replay's."""


def mark_key(group: str, topic: str, partition: int, stream: str) -> MarkKey:
    return (group, topic, partition, stream) if stream else (group, topic, partition)


class FakeEnqueuer:
    """The store's enqueuer as the loop uses it, with Redis's marks in a dict. A write's part whose `after` its
    mark does not reach is held back (WriteResult.held); the others land and move their marks. The first
    `failures` writes fail with `error`; `on_attempt(n)` runs before each write (raising there fails it)."""

    def __init__(self, failures: int = 0, marks: dict[MarkKey, int] | None = None,
                 error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or EnqueueError("Redis: ConnectionError: refused")
        self.tried: list[list[PartitionWrite]] = []
        """The parts of every write, failed or not."""
        self.writes: list[list[PartitionWrite]] = []
        """The parts of each write that landed (not those held back)."""
        self.held: list[PartitionWrite] = []
        """The parts held back, in order."""
        self.attempts = 0
        self.known_marks: dict[MarkKey, int] = marks or {}
        """The marks in "Redis" (see MarkKey); a write moves them."""
        self.on_attempt: Callable[[int], None] | None = None
        self.lengths: dict[str, int] = {}
        self.windows: dict[tuple[str, int], ReplayWindow] = {}

    def write(self, partitions: Iterable[PartitionWrite]) -> WriteResult:
        parts = list(partitions)
        self.tried.append(parts)
        self.attempts += 1
        if self.on_attempt:
            self.on_attempt(self.attempts)
        if self.attempts <= self.failures:
            raise self.error
        held = tuple(i for i, part in enumerate(parts) if part.after != -1 and self._mark(part) < part.after)
        landed = [part for i, part in enumerate(parts) if i not in held]
        for part in landed:
            key = mark_key(part.group, part.topic, part.partition, part.stream)
            self.known_marks[key] = max(self.known_marks.get(key, -1), part.last_offset)
        self.writes.append(landed)
        self.held.extend(parts[i] for i in held)
        return WriteResult(sum(len(p.jobs) for p in landed), (), 0.001, held)

    def _mark(self, part: PartitionWrite) -> int:
        return self.known_marks.get(mark_key(part.group, part.topic, part.partition, part.stream), -1)

    def read(self, group: str, partitions: Any) -> dict[tuple[str, int], PartitionMarks]:
        """The store's MarkReader.read: (topic, partition) -> its marks and replay window, from `known_marks`."""
        read = {}
        for topic, partition in partitions:
            window = self.windows.get((topic, partition))
            stream_mark = self.known_marks.get(mark_key(group, topic, partition, window.stream), -1) if window else -1
            read[(topic, partition)] = PartitionMarks(self.known_marks.get(mark_key(group, topic, partition, ""), -1),
                                                      window, stream_mark)
        return read

    def queue_lengths(self, queues: Any) -> dict[str, int]:
        """The store's QueueLengths.read."""
        return {q: self.lengths.get(q, 0) for q in queues}


class FakeSender:
    """The dead-letter sender: keeps what it sent; the first `failures` sends are refused."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[Any] = []
        self.calls = 0

    def send(self, letters: Any) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise DeadLetterError("dead-letter topic refused a message")
        self.sent.extend(letters)


def make_services(enqueuer: Any = None, sender: Any = None, *, factory: ConsumerFactory | None = None,
                  gate: QueueGate | None = None) -> Services:
    """Services over the fakes (or the real enqueuer given), with a registry of their own."""
    enqueuer = enqueuer or FakeEnqueuer()
    return Services(KafkaSettings(), DaemonSettings(), enqueuer, sender or FakeSender(), Metrics(),
                    factory or _no_consumer, gate, marks=enqueuer)


def _no_consumer(*_: Any) -> Any:
    raise AssertionError("this test makes no Kafka consumer")


def make_thread(tmp_path: Path, script: list[Any], *, enqueuer: FakeEnqueuer | None = None,
                sender: FakeSender | None = None, routes: list[dict[str, Any]] | None = None,
                group: dict[str, Any] | None = None, deadline: float | None = None, gate: QueueGate | None = None,
                assignment: set[TopicPartition] | None = None, sections: dict[str, Any] | None = None,
                ) -> tuple[ConsumerThread, FakeConsumer, FakeEnqueuer]:
    """A ConsumerThread of group g (`group` adds settings; one route of topic t to queue q unless `routes`; more
    top-level `sections` of the routes file) whose Kafka consumer plays `script` (kafka_fakes.FakeConsumer), not
    started."""
    table = make_table(tmp_path, {"g": {**(group or {}),
                                        "routes": routes or [{"topic": "t", "handler": "h.handle", "queue": "q"}]}},
                       **(sections or {}))
    routes_of_g = table.groups["g"]
    stop = threading.Event()
    enqueuer = enqueuer or FakeEnqueuer()
    consumer = FakeConsumer(script, stop, assignment or {TP0, TP1})
    services = make_services(enqueuer, sender, factory=lambda *_: consumer, gate=gate)
    thread = ConsumerThread(routes_of_g.spec, 0, lambda: routes_of_g, services, stop)
    thread.drain_deadline = deadline
    return thread, consumer, enqueuer


def run_thread(tmp_path: Path, script: list[Any], **options: Any) -> tuple[FakeConsumer, FakeEnqueuer,
                                                                           ConsumerThread]:
    """make_thread's thread, run in this thread until the script ends (the fake then sets stop)."""
    thread, consumer, enqueuer = make_thread(tmp_path, script, **options)
    thread.run()
    return consumer, enqueuer, thread


def fast_backoff(monkeypatch: Any) -> None:
    """Retries a few milliseconds apart."""
    monkeypatch.setattr("karafkad.defaults.BACKOFF_INITIAL", 0.001)
    monkeypatch.setattr("karafkad.defaults.BACKOFF_MAX", 0.002)


def make_batch(tp: TopicPartition, offsets: range, template: JobTemplate | None = None) -> PartitionBatch:
    """A decided batch of one job per offset (ids `kd-t-PARTITION-OFFSET`, data `{"n": 100 * partition +
    offset}`) for route r to `template` (queue q, h.handle, unless given)."""
    template = template or build_template("q", "h.handle", JobOptions())
    naming = JobNaming("r", template, f"kd-t-{tp.partition}-", "", f"{template.func_name} <- t@")
    batch = PartitionBatch(tp.topic, tp.partition, last_offset=offsets[-1])
    batch.jobs = [PendingJob(naming, o, template.encode([{"n": 100 * tp.partition + o}])) for o in offsets]
    return batch


def make_line(enqueuer: Any, *, sender: Any = None, deadline: Callable[[], float | None] = lambda: None,
              assignment: Iterable[TopicPartition] = (TP0, TP1)) -> DeliveryLine:
    """A DeliveryLine of group g writing to `enqueuer`, its pauser over a FakeConsumer of `assignment`
    (line.pauser.consumer), its metrics in line.services.metrics."""
    services = make_services(enqueuer, sender)
    log = get_logger("test")
    pauser = Pauser(FakeConsumer([], threading.Event(), set(assignment)), "g", 0, services.metrics, log)
    return DeliveryLine("test", "g", services, pauser, log, deadline)


def finish_retrying(line: DeliveryLine, between: Callable[[float], None] | None = None) -> Finished | None:
    """DeliveryLine.finish as the poll loop calls it: again after each RetryLater, `between(seconds)` standing
    for the loop's wait paused in the group (a test revokes there, as a rebalance would)."""
    step = line.finish()
    while isinstance(step, RetryLater):
        if between is not None:
            between(step.seconds)
        step = line.finish()
    return step
