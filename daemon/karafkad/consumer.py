"""One consumer thread: poll a batch, decide, enqueue, commit; pause instead of losing.

Each thread is its own member of its consumer group (its own KafkaConsumer).
It never polls for new work while a batch is in hand: the batch is written to
Redis (and its dead letters to Kafka) first, then its offsets are committed,
so a rebalance always lands between batches. When Redis or the dead-letter
topic fails, the thread pauses its partitions and keeps polling (so the group
keeps it) while it retries with capped backoff; it never commits past what
was written. Rebalance callbacks run on kafka-python's I/O thread, so they
only record what happened (and commit asynchronously); the thread acts on it
after poll returns.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from karafkad import defaults, kafkacompat, kafkaerrors
from karafkad.config import DaemonSettings, GroupSpec, KafkaSettings
from karafkad.deadletter import DeadLetterSender
from karafkad.enqueuer import Enqueuer, PartitionWrite
from karafkad.errors import DeadLetterError, EnqueueError
from karafkad.observability import Metrics, get_logger
from karafkad.pipeline import PartitionBatch, Pipeline
from karafkad.routing import GroupRoutes

log = get_logger("karafkad.consumer")

Delivered = list[tuple[TopicPartition, PartitionBatch]]

ConsumerFactory = Callable[[KafkaSettings, GroupSpec, int], Any]
"""make(kafka settings, group, thread index) -> a KafkaConsumer (or a test double)."""


def make_consumer(kafka: KafkaSettings, group: GroupSpec, index: int) -> KafkaConsumer:
    if not kafkacompat.apply():
        log.warning("kafka-python changed: a message with a non-UTF-8 header key will stall this consumer")
    options = kafka.client_options()
    options["client_id"] = f"{kafka.client_id}-{group.id}-{index}"
    return KafkaConsumer(
        group_id=group.id,
        enable_auto_commit=False,
        auto_offset_reset=group.auto_offset_reset,
        session_timeout_ms=group.session_timeout_ms,
        heartbeat_interval_ms=group.heartbeat_interval_ms or max(group.session_timeout_ms // 3, 100),
        max_poll_records=group.max_poll_records,
        max_poll_interval_ms=group.max_poll_interval_ms,
        group_instance_id=f"{group.instance_id}-{index}" if group.instance_id else None,
        allow_auto_create_topics=False,
        metrics_enabled=False,
        # kafka-python backs off up to 30 s between reconnects; after a broker restart that
        # is up to 30 s of standing still. 2 s keeps recovery quick without hammering.
        reconnect_backoff_max_ms=2000,
        # kafka-python waits 30 s for a first broker by default; a SIGTERM during a refused
        # login would wait that out, past the default shutdown_timeout.
        bootstrap_timeout_ms=10_000,
        **options,
    )


@dataclass
class Services:
    """What a consumer thread writes to, shared by all threads of the daemon."""

    kafka: KafkaSettings
    daemon: DaemonSettings
    enqueuer: Enqueuer
    dead_letters: DeadLetterSender
    metrics: Metrics
    consumer_factory: ConsumerFactory = make_consumer
    queue_gate: QueueGate | None = None


class QueueGate:
    """Pauses consuming while an RQ queue is above its high watermark, until it is below the low one.

    Queue lengths are read from Redis at most once per `interval`; in between,
    the jobs this daemon wrote are added to the last reading, so a fast
    consumer cannot overshoot the watermark by a second's worth of jobs.
    """

    def __init__(self, enqueuer: Enqueuer, queues: tuple[str, ...], high: int, low: int,
                 interval: float = 1.0) -> None:
        self.enqueuer = enqueuer
        self.queues = queues
        self.high = high
        self.low = low
        self.interval = interval
        self._checked = -float("inf")
        self._closed = False
        self._estimate: dict[str, int] = {}
        self._lock = threading.Lock()

    def note_enqueued(self, queue: str, count: int) -> None:
        with self._lock:
            self._estimate[queue] = self._estimate.get(queue, 0) + count

    def closed(self) -> bool:
        """True while consumers should stay paused."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self.interval:
                try:
                    self._estimate = dict(self.enqueuer.queue_lengths(self.queues))
                    self._checked = now
                except EnqueueError:
                    pass  # the enqueue path reports Redis outages itself
            longest = max(self._estimate.values(), default=0)
            self._closed = longest > self.low if self._closed else longest > self.high
            return self._closed


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
        self._logged: Counter[str] = Counter()
        self._suppressed: Counter[str] = Counter()

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


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Runs on kafka-python's I/O thread: record, never block."""

    def __init__(self, owner: ConsumerThread) -> None:
        self.owner = owner

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.owner.note_revoked(set(revoked), can_commit=True)

    def on_partitions_lost(self, lost: Any) -> None:
        self.owner.note_revoked(set(lost), can_commit=False)

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.owner.note_assigned(set(assigned))


class ConsumerThread(threading.Thread):
    """One member of one consumer group."""

    def __init__(self, group: GroupSpec, index: int, get_routes: Callable[[], GroupRoutes], services: Services,
                 stop: threading.Event) -> None:
        super().__init__(name=f"consumer-{group.id}-{index}", daemon=True)
        self.group = group
        self.index = index
        self.get_routes = get_routes
        self.services = services
        self.stop_event = stop
        self.drain_deadline: float | None = None
        """Monotonic time after which a batch that cannot be written is given up (not committed)."""
        self.joined = threading.Event()
        self.abandoned = False
        """Set when a drain deadline passed with a batch that could not be written."""
        self.assignment: frozenset[TopicPartition] = frozenset()
        self.consumer: Any = None
        self._lock = threading.Lock()
        self._revoked: set[TopicPartition] = set()
        self._lost_since_poll: set[TopicPartition] = set()
        self._new: set[TopicPartition] = set()
        self._uncommitted: dict[TopicPartition, OffsetAndMetadata] = {}
        self._marks: dict[TopicPartition, int] = {}
        self._pipeline: Pipeline | None = None
        self._paused = False
        self._lag_labels: set[TopicPartition] = set()
        self._skip_log = SkipLog()
        self.log = log.bind(group=group.id, thread=index)

    # --- called from kafka-python's I/O thread ------------------------------

    def note_revoked(self, partitions: set[TopicPartition], can_commit: bool) -> None:
        with self._lock:
            self._revoked |= partitions
            done = {tp: self._uncommitted.pop(tp) for tp in partitions if tp in self._uncommitted}
        if done and can_commit and self.consumer is not None:
            try:
                self.consumer.commit_async(done)  # a blocking commit would raise on this thread
            except Exception as exc:  # the marks in Redis keep a redelivery from becoming a second job
                self.log.warning("commit on revoke failed", error=str(exc))

    def note_assigned(self, partitions: set[TopicPartition]) -> None:
        with self._lock:
            self._new |= partitions
        self.joined.set()

    # --- the thread ---------------------------------------------------------

    def run(self) -> None:
        backoff = defaults.BACKOFF_INITIAL
        while not self.stop_event.is_set():
            try:
                self._consume()
                return
            except Exception as exc:  # a broken client must not end the member: log, back off, rejoin
                error = kafkaerrors.describe(exc, self.services.kafka)
                self.log.error("consumer failed; starting a new one", error=error, retry_in=round(backoff, 1))
                self.services.metrics.recent.add("consumer", error, group=self.group.id)
                self._close()
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, defaults.BACKOFF_MAX * 2)

    def _consume(self) -> None:
        self.consumer = self.services.consumer_factory(self.services.kafka, self.group, self.index)
        self.consumer.subscribe(topics=list(self.group.topics), listener=_Listener(self))
        self.log.info("consumer started", topics=list(self.group.topics))
        try:
            while not self.stop_event.is_set():
                records = self.consumer.poll(timeout_ms=defaults.POLL_TIMEOUT_MS,
                                             max_records=self.group.max_poll_records)
                self._after_poll()
                if records:
                    self._handle(records)
                self._retry_commits()
                gate = self.services.queue_gate
                if gate is not None and gate.closed():
                    self._wait_for_queues(gate)
        finally:
            self._close()

    def _close(self) -> None:
        consumer, self.consumer = self.consumer, None
        if consumer is None:
            return
        self._retry_commits(consumer)
        try:
            consumer.close(autocommit=False, timeout_ms=5000)  # leaves the group at once
        except Exception as exc:
            self.log.warning("consumer close failed", error=str(exc))
        self.joined.clear()
        self.assignment = frozenset()
        self.log.info("consumer closed")

    def _after_poll(self) -> None:
        with self._lock:
            revoked, self._revoked = self._revoked, set()
            new, self._new = self._new, set()
        for tp in revoked:
            self._marks.pop(tp, None)
            if tp in self._lag_labels:
                self._lag_labels.discard(tp)
                self.services.metrics.lag.remove(self.group.id, tp.topic, str(tp.partition))
        self._lost_since_poll |= revoked
        if revoked or new:
            self.assignment = frozenset(self.consumer.assignment())
            self.services.metrics.assigned.labels(self.group.id, str(self.index)).set(len(self.assignment))
            self.log.info("assignment changed", partitions=sorted(f"{tp.topic}[{tp.partition}]"
                                                                  for tp in self.assignment))
            if self._paused:
                self._pause_all()  # newly assigned partitions arrive unpaused

    def _handle(self, records: dict[TopicPartition, list[Any]]) -> None:
        routes = self.get_routes()
        if self._pipeline is None or self._pipeline.routes is not routes:
            self._pipeline = Pipeline(routes, self.services.daemon.max_message_bytes)
        pipeline = self._pipeline
        self._lost_since_poll = set()
        self._load_marks(list(records))
        batches = [(tp, pipeline.process(tp.topic, tp.partition, recs, self._marks.get(tp, -1)))
                   for tp, recs in records.items()]
        metrics = self.services.metrics
        for _, batch in batches:
            metrics.batch_size.labels(self.group.id).observe(batch.consumed + batch.redelivered)
        delivered, duplicates = self._deliver(batches)
        if delivered:
            self._account(delivered, duplicates)
            self._commit(delivered)

    def _load_marks(self, partitions: list[TopicPartition]) -> None:
        """Read the Redis marks of partitions this thread has not seen yet (see enqueuer.py)."""
        unknown = [tp for tp in partitions if tp not in self._marks]
        if not unknown:
            return
        try:
            marks = self.services.enqueuer.marks([(self.group.id, tp.topic, tp.partition) for tp in unknown])
        except EnqueueError:
            return  # the write below still refuses duplicates; only a dead letter could repeat
        for tp in unknown:
            self._marks[tp] = marks[(self.group.id, tp.topic, tp.partition)]

    def _deliver(self, batches: list[tuple[TopicPartition, PartitionBatch]]) -> tuple[Delivered, tuple[Any, ...]]:
        """Write the batches, retrying while paused.

        Returns the batches written (those of revoked partitions are dropped:
        their new owner starts from the last commit) and the jobs Redis already
        had.
        """
        backoff = defaults.BACKOFF_INITIAL
        pending = batches
        duplicates: tuple[Any, ...] = ()
        outage_started: float | None = None
        while True:
            pending = [(tp, b) for tp, b in pending if tp not in self._lost_since_poll]
            if not pending:
                break
            try:
                for _, batch in pending:
                    if batch.dead_letters and not batch.dead_letters_sent:
                        self.services.dead_letters.send(batch.dead_letters)
                        batch.dead_letters_sent = True
                result = self.services.enqueuer.write(
                    PartitionWrite(self.group.id, tp.topic, tp.partition, b.last_offset, b.jobs,
                                   self._highwater(tp)) for tp, b in pending)
            except (EnqueueError, DeadLetterError) as exc:
                if outage_started is None:
                    outage_started = time.monotonic()
                    reason = "redis" if isinstance(exc, EnqueueError) else "dead_letter"
                    self.log.warning("cannot deliver; pausing partitions and retrying", error=str(exc))
                    self.services.metrics.backpressure.labels(self.group.id, reason).inc()
                    self.services.metrics.recent.add(reason, str(exc), group=self.group.id)
                    self._pause_all()
                if self.drain_deadline is not None and time.monotonic() >= self.drain_deadline:
                    self.log.error("shutdown deadline reached with a batch not written; its offsets stay "
                                   "uncommitted and it will be consumed again", partitions=len(pending))
                    self.abandoned = True
                    return [], ()
                self._idle_poll(backoff)
                backoff = min(backoff * 2, defaults.BACKOFF_MAX)
                continue
            self.services.metrics.enqueue_seconds.labels(self.group.id).observe(result.seconds)
            for duplicate in result.duplicates:
                self.log.info("job already enqueued before; not writing it again", job_id=duplicate.job_id)
            duplicates = result.duplicates
            break
        if outage_started is not None:
            self.log.info("delivering again; resuming partitions",
                          paused_for=round(time.monotonic() - outage_started, 1))
            self._resume_all()
        return pending, duplicates

    def _account(self, delivered: Delivered, duplicate_jobs: tuple[Any, ...]) -> None:
        metrics, group = self.services.metrics, self.group.id
        duplicates = {id(job) for job in duplicate_jobs}
        enqueued: Counter[tuple[str, str]] = Counter()
        for tp, batch in delivered:
            self._marks[tp] = max(self._marks.get(tp, -1), batch.last_offset)
            metrics.consumed.labels(group, tp.topic).inc(batch.consumed)
            repeated = batch.redelivered
            for job in batch.jobs:
                if id(job) in duplicates:
                    repeated += 1
                else:
                    enqueued[(job.route, job.template.queue)] += 1
            if repeated:
                metrics.redelivered.labels(group, tp.topic).inc(repeated)
            for letter in batch.dead_letters:
                for route_name in letter.route_names:
                    metrics.dead_lettered.labels(group, route_name, letter.kind).inc()
                metrics.recent.add("dead letter", f"{letter.kind}: {letter.reason}", route=",".join(letter.route_names),
                                   topic=tp.topic, partition=tp.partition, offset=letter.record.offset)
            for (route, reason), count in batch.skipped.items():
                metrics.skipped.labels(group, route, reason).inc(count)
            for route, offset, reason in batch.skip_notes:
                metrics.recent.add("skipped", reason, route=route, topic=tp.topic, partition=tp.partition,
                                   offset=offset)
                if self._skip_log.allow(route):
                    self.log.warning("message skipped", route=route, topic=tp.topic, partition=tp.partition,
                                     offset=offset, reason=reason)
            highwater = self._highwater(tp)
            if highwater >= 0:
                self._lag_labels.add(tp)
                metrics.lag.labels(group, tp.topic, str(tp.partition)).set(max(highwater - batch.last_offset - 1, 0))
        gate = self.services.queue_gate
        for (route, queue), count in enqueued.items():
            metrics.enqueued.labels(group, route, queue).inc(count)
            if gate is not None:
                gate.note_enqueued(queue, count)
        for route, suppressed in self._skip_log.summaries():
            self.log.warning("more messages skipped", route=route, count=suppressed,
                             window_seconds=self._skip_log.window, note="see karafkad_messages_skipped_total")

    def _commit(self, delivered: Delivered) -> None:
        with self._lock:
            for tp, batch in delivered:
                self._uncommitted[tp] = OffsetAndMetadata(batch.last_offset + 1, "", -1)
        self._retry_commits()

    def _retry_commits(self, consumer: Any = None) -> None:
        consumer = consumer or self.consumer
        with self._lock:
            offsets = dict(self._uncommitted)
        if not offsets or consumer is None:
            return
        try:
            consumer.commit(offsets=offsets, timeout_ms=10_000)
        except CommitFailedError as exc:
            # The group moved on (rebalance): these partitions belong to someone
            # else now, who starts from the last commit; the marks stop repeats.
            self.log.warning("commit refused after a rebalance", error=str(exc))
            offsets_done = offsets
        except KafkaError as exc:
            self.services.metrics.commit_failures.labels(self.group.id).inc()
            self.log.warning("commit failed; will retry", error=f"{type(exc).__name__}: {exc}")
            return
        else:
            offsets_done = offsets
        with self._lock:
            for tp, offset in offsets_done.items():
                if self._uncommitted.get(tp) == offset:
                    del self._uncommitted[tp]

    def _highwater(self, tp: TopicPartition) -> int:
        try:
            value = self.consumer.highwater(tp)
        except Exception:
            return -1
        return int(value) if value is not None else -1

    def _pause_all(self) -> None:
        assigned = list(self.consumer.assignment())
        if assigned:
            self.consumer.pause(*assigned)
        self._paused = True
        self.services.metrics.paused.labels(self.group.id, str(self.index)).set(len(assigned))

    def _resume_all(self) -> None:
        paused = list(self.consumer.paused())
        if paused:
            self.consumer.resume(*paused)
        self._paused = False
        self.services.metrics.paused.labels(self.group.id, str(self.index)).set(0)

    def _idle_poll(self, seconds: float) -> None:
        """Wait while staying in the group: poll with every partition paused."""
        records = self.consumer.poll(timeout_ms=int(seconds * 1000))
        self._after_poll()
        for tp, recs in records.items():  # only a partition assigned mid-wait can return data: fetch it again later
            self.consumer.seek(tp, recs[0].offset)
        self._pause_all()

    def _wait_for_queues(self, gate: QueueGate) -> None:
        self.log.warning("an RQ queue is above its high watermark; pausing", high=gate.high, low=gate.low)
        self.services.metrics.backpressure.labels(self.group.id, "queue_full").inc()
        self._pause_all()
        while gate.closed() and not self.stop_event.is_set():
            self._idle_poll(max(gate.interval, 0.05))
            self._retry_commits()
        self.log.info("RQ queues below the low watermark; resuming")
        self._resume_all()
