"""One consumer thread: poll a batch, decide, enqueue, commit; pause instead of losing.

Each thread is its own member of its consumer group (its own KafkaConsumer).
A batch is written to Redis (its dead letters to Kafka first) by a writer
thread while the consumer thread polls and decides the next batch: one write
in flight at a time, in order. Only once a write has succeeded are its
offsets committed, so no commit runs ahead of the jobs. A rebalance that
lands while a write is in flight drops the revoked partitions from it: they
are not committed, their new owner starts from the last commit, and the
partition marks in Redis keep that from becoming a second job.

When Redis or the dead-letter topic fails, the thread pauses its partitions
and keeps polling (so the group keeps it) while it retries with capped
backoff. Rebalance callbacks run on kafka-python's I/O thread, so they only
record what happened (and commit asynchronously); the thread acts on it
after poll returns.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

from karafkad import defaults, kafkacompat, kafkaerrors
from karafkad.backpressure import QueueGate
from karafkad.config import DaemonSettings, GroupSpec, KafkaSettings
from karafkad.deadletter import DeadLetterSender
from karafkad.enqueuer import Enqueuer, PartitionWrite, WriteResult
from karafkad.errors import DeadLetterError, EnqueueError
from karafkad.observability import Metrics, SkipLog, get_logger
from karafkad.offsets import OffsetBook
from karafkad.pipeline import PartitionBatch, Pipeline
from karafkad.routing import GroupRoutes

log = get_logger("karafkad.consumer")

Delivered = list[tuple[TopicPartition, PartitionBatch]]


@dataclass
class Delivery:
    """One poll's decided batches on their way to Redis."""

    batches: Delivered
    highwater: dict[TopicPartition, int]
    lost: set[TopicPartition] = field(default_factory=set)
    """Partitions revoked since the poll: not committed, not retried."""
    future: Future[WriteResult] | None = None

    def live(self) -> Delivered:
        return [(tp, b) for tp, b in self.batches if tp not in self.lost]

ConsumerFactory = Callable[[KafkaSettings, GroupSpec, int], Any]
"""make(kafka settings, group, thread index) -> a KafkaConsumer (or a test double)."""


def heartbeat_interval_ms(group: GroupSpec) -> int:
    """The group's heartbeat_interval_ms, or a third of its session timeout, at most 1 s (see defaults)."""
    if group.heartbeat_interval_ms:
        return group.heartbeat_interval_ms
    return max(min(group.session_timeout_ms // 3, defaults.HEARTBEAT_INTERVAL_MAX_MS), 100)


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
        heartbeat_interval_ms=heartbeat_interval_ms(group),
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
        # kafka-python keeps one fetch per broker in flight and leaves out the partitions that
        # still have buffered records; a fetch holding only caught-up partitions then waits the
        # full fetch_max_wait_ms at the broker while the others run dry. At the default 500 ms
        # that capped consuming at ~30k msgs/s here; at 100 ms, ~95k (scripts/bench, raw).
        fetch_max_wait_ms=defaults.FETCH_MAX_WAIT_MS,
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
        self.progressed_at = time.monotonic()
        """When the thread's loop last came round (see defaults.STALL_SECONDS and Supervisor.stalled)."""
        self.abandoned = False
        """Set when a drain deadline passed with a batch that could not be written."""
        self.assignment: frozenset[TopicPartition] = frozenset()
        self.consumer: Any = None
        self.log = log.bind(group=group.id, thread=index)
        self._lock = threading.Lock()
        self._revoked: set[TopicPartition] = set()
        self._new: set[TopicPartition] = set()
        self._offsets = OffsetBook(on_failure=self._commit_failed, log=self.log)
        self._marks: dict[TopicPartition, int] = {}
        self._pipeline: Pipeline | None = None
        self._paused = False
        self._lag_labels: set[TopicPartition] = set()
        self._skip_log = SkipLog()
        self._writer: ThreadPoolExecutor | None = None
        self._in_flight: Delivery | None = None
        self._open: list[Delivery] = []
        """Deliveries polled but not finished (the one in flight, the one being decided)."""

    # --- called from kafka-python's I/O thread ------------------------------

    def note_revoked(self, partitions: set[TopicPartition], can_commit: bool) -> None:
        with self._lock:
            self._revoked |= partitions
        self._offsets.revoked(self.consumer, partitions, can_commit)

    def note_assigned(self, partitions: set[TopicPartition]) -> None:
        with self._lock:
            self._new |= partitions
        self.joined.set()

    # --- the thread ---------------------------------------------------------

    def run(self) -> None:
        backoff = defaults.BACKOFF_INITIAL
        while not self.stop_event.is_set():
            self.progressed_at = time.monotonic()
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
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.name}-writer")
        self.log.info("consumer started", topics=list(self.group.topics))
        try:
            while not self.stop_event.is_set():
                self.progressed_at = time.monotonic()
                records = self.consumer.poll(timeout_ms=defaults.POLL_TIMEOUT_MS,
                                             max_records=self.group.max_poll_records)
                self._after_poll()
                if records and sum(map(len, records.values())) >= self.group.max_poll_records:
                    # A full poll means a backlog: fetch the partitions already drained while this
                    # batch is decided (~25% more throughput). Not when caught up, where the extra
                    # fetch would sit at the broker and delay the next messages.
                    kafkacompat.prefetch(self.consumer)
                decided = self._decide(records) if records else None
                self._finish_in_flight()  # the previous batch's write ran while this one was polled and decided
                if decided is not None:
                    self._submit(decided)
                self._offsets.commit_async(self.consumer)
                gate = self.services.queue_gate
                if gate is not None and gate.closed():
                    self._finish_in_flight()
                    self._wait_for_queues(gate)
            self._finish_in_flight()  # draining: the batch in hand is written (or given up at the deadline)
        finally:
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.shutdown(wait=False, cancel_futures=True)
            self._in_flight = None
            self._open = []
            self._close()

    def _close(self) -> None:
        consumer, self.consumer = self.consumer, None
        if consumer is None:
            return
        self._offsets.commit_sync(consumer)
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
        for delivery in self._open:
            delivery.lost |= revoked
        if revoked or new:
            self.assignment = frozenset(self.consumer.assignment())
            self.services.metrics.assigned.labels(self.group.id, str(self.index)).set(len(self.assignment))
            self.log.info("assignment changed", partitions=sorted(f"{tp.topic}[{tp.partition}]"
                                                                  for tp in self.assignment))
            if self._paused:
                self._pause_all()  # newly assigned partitions arrive unpaused

    def _decide(self, records: dict[TopicPartition, list[Any]]) -> Delivery:
        """Run the pipeline over a poll's records."""
        routes = self.get_routes()
        if self._pipeline is None or self._pipeline.routes is not routes:
            self._pipeline = Pipeline(routes, self.services.daemon.max_message_bytes)
        pipeline = self._pipeline
        self._load_marks(list(records))
        batches = [(tp, pipeline.process(tp.topic, tp.partition, recs, self._marks.get(tp, -1)))
                   for tp, recs in records.items()]
        sizes = self.services.metrics.batch_size.labels(self.group.id)
        for _, batch in batches:
            sizes.observe(batch.consumed + batch.redelivered)
        delivery = Delivery(batches, {tp: self._highwater(tp) for tp, _ in batches})
        self._open.append(delivery)
        return delivery

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

    def _write(self, delivery: Delivery, batches: Delivered) -> WriteResult:
        """Dead letters first (acknowledged), then the jobs and marks in one Redis call."""
        for _, batch in batches:
            if batch.dead_letters and not batch.dead_letters_sent:
                self.services.dead_letters.send(batch.dead_letters)
                batch.dead_letters_sent = True
        return self.services.enqueuer.write(
            PartitionWrite(self.group.id, tp.topic, tp.partition, b.last_offset, b.jobs, delivery.highwater[tp])
            for tp, b in batches)

    def _submit(self, delivery: Delivery) -> None:
        assert self._writer is not None and self._in_flight is None
        delivery.future = self._writer.submit(self._write, delivery, delivery.batches)
        self._in_flight = delivery

    def _finish_in_flight(self) -> None:
        """Wait for the write in flight; retry it (paused) if it failed; then account and record offsets."""
        delivery, self._in_flight = self._in_flight, None
        if delivery is None:
            return
        assert delivery.future is not None
        try:
            result: WriteResult | None = delivery.future.result()
        except (EnqueueError, DeadLetterError) as exc:
            result = self._retry(delivery, exc)
        finally:
            self._open.remove(delivery)
        if result is None:
            return
        self.services.metrics.enqueue_seconds.labels(self.group.id).observe(result.seconds)
        for duplicate in result.duplicates:
            self.log.info("job already enqueued before; not writing it again", job_id=duplicate.job_id)
        written = delivery.live()
        if written:
            self._account(written, result.duplicates)
            self._offsets.record({tp: b.last_offset + 1 for tp, b in written})

    def _retry(self, delivery: Delivery, first: Exception) -> WriteResult | None:
        """Keep writing the delivery, paused, until it succeeds, its partitions are all revoked, or the drain
        deadline passes (then it is given up: not committed, consumed again later)."""
        reason = "redis" if isinstance(first, EnqueueError) else "dead_letter"
        self.log.warning("cannot deliver; pausing partitions and retrying", error=str(first))
        self.services.metrics.backpressure.labels(self.group.id, reason).inc()
        self.services.metrics.recent.add(reason, str(first), group=self.group.id)
        self._pause_all()
        started = time.monotonic()
        backoff = defaults.BACKOFF_INITIAL
        result = None
        while True:
            if self.drain_deadline is not None and time.monotonic() >= self.drain_deadline:
                self.log.error("shutdown deadline reached with a batch not written; its offsets stay "
                               "uncommitted and it will be consumed again", partitions=len(delivery.live()))
                self.abandoned = True
                break
            self._idle_poll(backoff)
            backoff = min(backoff * 2, defaults.BACKOFF_MAX)
            live = delivery.live()
            if not live:
                break
            try:
                result = self._write(delivery, live)
                break
            except (EnqueueError, DeadLetterError):
                continue
        if result is not None:
            self.log.info("delivering again; resuming partitions", paused_for=round(time.monotonic() - started, 1))
        self._resume_all()
        return result

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

    def _commit_failed(self, error: BaseException) -> None:
        self.services.metrics.commit_failures.labels(self.group.id).inc()
        self.log.warning("commit failed; will retry", error=f"{type(error).__name__}: {error}")

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
        self.progressed_at = time.monotonic()
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
            self._offsets.commit_async(self.consumer)
        self.log.info("RQ queues below the low watermark; resuming")
        self._resume_all()
