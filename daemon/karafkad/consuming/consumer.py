"""One consumer thread: poll a batch, decide, hand it to the writer, commit what was written.

Each thread is its own member of its consumer group (its own Kafka
consumer). The loop polls and decides batch N+2 while batches N and N+1 are
written (delivery.py), commits only what was written (positions.py, offsets.py),
and pauses instead of losing when Redis, the dead-letter topic or RQ's
queues cannot take more (pausing.py, backpressure.py). Rebalances are
collected by membership.py and acted on between polls. A batch the client
cannot read holds its partition (the others go on); a client that breaks is
closed and replaced with backoff; a static member whose instance id another
process took stops, and says so: the member never just dies, and never
fights another for its partitions.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter

from kafka.errors import FencedInstanceIdError

from karafkad import defaults
from karafkad.clients.kafka import failures as kafkaerrors
from karafkad.clients.kafka.consumers import instance_id
from karafkad.clients.kafka.types import ConsumerClient, Record, TopicPartition
from karafkad.clients.kafka.workarounds import patches as kafkacompat
from karafkad.clients.kafka.workarounds.fencing import fencing
from karafkad.clients.kafka.workarounds.fetch_state import BadBatch, position, set_aside_bad_batch
from karafkad.config.settings import GroupSpec
from karafkad.consuming.accounting import Accountant
from karafkad.consuming.backpressure import QueueGate
from karafkad.consuming.delivery import Delivery, DeliveryLine
from karafkad.consuming.marks_cache import Marks
from karafkad.consuming.membership import Membership
from karafkad.consuming.offsets import OffsetBook
from karafkad.consuming.pausing import Pauser
from karafkad.consuming.positions import Positions, highwater
from karafkad.consuming.services import Services
from karafkad.errors import EnqueueError
from karafkad.observability import get_logger
from karafkad.pipeline.outcomes import PartitionBatch
from karafkad.pipeline.steps import Pipeline
from karafkad.routes.table import GroupRoutes

log = get_logger("karafkad.consumer")


_offset = attrgetter("offset")

class Fenced(Exception):
    """Another process joined the group with this member's static instance id."""


class ConsumerThread(threading.Thread):
    """One member of one consumer group; replaces its Kafka client when it breaks."""

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
        self.progressed_at = time.monotonic()
        """When the thread's loop last came round (see defaults.STALL_SECONDS and Supervisor.stalled)."""
        self.abandoned = False
        """Set when a drain deadline passed with a batch that could not be written."""
        self.fatal: str | None = None
        """Why this member stopped for good (its instance id taken by another process); the supervisor exits."""
        self.held: dict[TopicPartition, BadBatch] = {}
        """Partitions held at a batch the client cannot read (shown on the status page)."""
        self.instance_id = instance_id(group, index)
        self.log = log.bind(group=group.id, thread=index)
        self.offsets = OffsetBook(on_failure=self._commit_failed, log=self.log,
                                  on_sent=services.metrics.commits.labels(group.id).inc)
        self.membership = Membership(group.id, index, self.offsets, services.metrics, self.log)
        self.marks = Marks(group.id, services.marks)
        self._pipeline: Pipeline | None = None
        self.line: DeliveryLine | None = None
        """The current session's delivery line (None before the first)."""

    @property
    def joined(self) -> threading.Event:
        return self.membership.joined

    @property
    def assignment(self) -> frozenset[TopicPartition]:
        return self.membership.assignment

    def run(self) -> None:
        backoff = defaults.BACKOFF_INITIAL
        while not self.stop_event.is_set():
            self.progressed_at = time.monotonic()
            try:
                consumer = self.services.consumer_factory(self.services.kafka, self.group, self.index)
                try:
                    _Session(self, consumer).consume()
                    return
                finally:
                    self._close(consumer)
            except (Fenced, FencedInstanceIdError):
                self.fatal = (f"another process joined group {self.group.id!r} with this member's instance id "
                              f"{self.instance_id!r}; the broker gave it this member's partitions. Give every "
                              "running karafkad its own instance id (instance_id in routes.yaml, or "
                              "--instance-id / $KARAFKAD_INSTANCE_ID)")
                self.log.error("static member fenced; this consumer stops", instance_id=self.instance_id,
                               reason=self.fatal)
                self.services.metrics.recent.add("consumer", self.fatal, group=self.group.id)
                return
            except Exception as exc:  # a broken client must not end the member: log, back off, rejoin
                error = kafkaerrors.describe(exc, self.services.kafka)
                self.log.error("consumer failed; starting a new one", error=error, retry_in=round(backoff, 1))
                self.services.metrics.recent.add("consumer", error, group=self.group.id)
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, defaults.BACKOFF_MAX * 2)

    def pipeline(self) -> Pipeline:
        """The pipeline of the group's current routes (a reload swaps them between batches)."""
        routes = self.get_routes()
        if self._pipeline is None or self._pipeline.routes is not routes:
            self._pipeline = Pipeline(routes, self.services.daemon.max_message_bytes)
        return self._pipeline

    def progressed(self) -> None:
        self.progressed_at = time.monotonic()
        if fencing.fenced(self.instance_id):
            raise Fenced(self.instance_id)

    def _close(self, consumer: ConsumerClient) -> None:
        self.membership.consumer = None
        self.offsets.commit_sync(consumer)
        try:
            consumer.close(autocommit=False, timeout_ms=5000)  # a dynamic member leaves the group at once
        except Exception as exc:
            self.log.warning("consumer close failed", error=str(exc))
        self.membership.left()
        for tp in self.held:
            self.services.metrics.held.remove(self.group.id, tp.topic, str(tp.partition))
        self.held.clear()
        self.log.info("consumer closed")

    def _commit_failed(self, error: BaseException) -> None:
        self.services.metrics.commit_failures.labels(self.group.id).inc()
        self.log.warning("commit failed; will retry", error=f"{type(error).__name__}: {error}")


class _Session:
    """One Kafka consumer's life in a ConsumerThread: the poll loop and the units it drives."""

    def __init__(self, thread: ConsumerThread, consumer: ConsumerClient) -> None:
        self.thread = thread
        self.consumer = consumer
        self.group = thread.group
        services = thread.services
        metrics = services.metrics
        self.pauser = Pauser(consumer, metrics.paused.labels(self.group.id, str(thread.index)), self.poll,
                             thread.progressed)
        self.line = DeliveryLine(thread.name, self.group.id, services, self.pauser, thread.log,
                                 lambda: thread.drain_deadline)
        thread.line = self.line
        self.accountant = Accountant(self.group.id, metrics, thread.log, services.queue_gate)
        self.positions = Positions(self.group.id, consumer, thread.offsets, metrics,
                                   read_committed=self.group.isolation_level == "read_committed")

    def consume(self) -> None:
        thread, consumer, group = self.thread, self.consumer, self.group
        thread.membership.consumer = consumer
        consumer.subscribe(topics=list(group.topics), listener=thread.membership.listener())
        thread.log.info("consumer started", topics=list(group.topics), instance_id=thread.instance_id,
                        isolation_level=group.isolation_level, assignment_strategy=group.assignment_strategy)
        try:
            while not thread.stop_event.is_set():
                thread.progressed()
                records = self.poll(defaults.POLL_TIMEOUT_MS)
                if records and sum(map(len, records.values())) >= group.max_poll_records:
                    # A full poll means a backlog: fetch the partitions already drained while this
                    # batch is decided (~25% more throughput). Not when caught up, where the extra
                    # fetch would sit at the broker and delay the next messages.
                    kafkacompat.prefetch(consumer)
                decided = self.decide(records) if records else None
                # The earlier batches' writes ran while this one was polled and decided. They are seen to
                # the end oldest first: when they already have their answer, when a third write would be
                # in flight, and when this poll brought nothing to write.
                line = self.line
                while line.in_flight() and (decided is None or line.full() or line.oldest_done()):
                    self.finish()
                if decided is not None:
                    line.submit(decided)
                assigned = thread.membership.assignment
                self.positions.moved(assigned, self.line.busy())
                self.positions.update_lag(assigned)
                thread.offsets.commit_async(consumer)
                gate = thread.services.queue_gate
                if gate is not None and gate.closed():
                    self.finish_all()
                    self.wait_for_queues(gate)
            self.finish_all()  # draining: the batches in hand are written (or given up at the deadline)
        finally:
            thread.abandoned = thread.abandoned or self.line.abandoned
            self.line.close()

    def poll(self, timeout_ms: int) -> Mapping[TopicPartition, Sequence[Record]]:
        """One poll, then its rebalances acted on; a batch the client cannot read holds its partition
        instead of failing the consumer."""
        try:
            records = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.group.max_poll_records)
        except Exception as exc:
            bad = set_aside_bad_batch(self.consumer, exc)
            if bad is None:
                raise
            self.hold(bad)
            records = {}
        self.after_poll()
        return records

    def hold(self, bad: BadBatch) -> None:
        thread, tp = self.thread, bad.partition
        self.pauser.hold(tp)
        thread.held[tp] = bad
        metrics = thread.services.metrics
        metrics.held.labels(self.group.id, tp.topic, str(tp.partition)).set(1)
        metrics.unreadable.labels(self.group.id, tp.topic).inc()
        where = f"{tp.topic}[{tp.partition}]@{bad.offset}"
        metrics.recent.add("unreadable batch", f"{where}: {bad.error}", group=self.group.id, topic=tp.topic,
                           partition=tp.partition, offset=bad.offset)
        thread.log.error("a fetched batch cannot be read; its partition is held (the others go on consuming). "
                         "Nothing of it is committed; it is read again when the partition is next assigned",
                         topic=tp.topic, partition=tp.partition, offset=bad.offset, error=bad.error)

    def after_poll(self) -> None:
        """Act on the rebalances the last poll ran."""
        thread = self.thread
        revoked, new = thread.membership.take_changes()
        if revoked:
            thread.marks.forget(revoked)
            self.positions.forget(revoked)
            self.line.lose(revoked)
            self.pauser.release(revoked)
            for tp in revoked & thread.held.keys():
                del thread.held[tp]
                thread.services.metrics.held.remove(self.group.id, tp.topic, str(tp.partition))
        if (revoked or new) and self.pauser.paused:
            self.pauser.pause_all()  # newly assigned partitions arrive unpaused

    def decide(self, records: Mapping[TopicPartition, Sequence[Record]]) -> Delivery | None:
        """Run the pipeline over a poll's records (None: postponed, Redis could not say what was handled)."""
        thread, consumer = self.thread, self.consumer
        try:
            thread.marks.load(records)
        except EnqueueError as exc:
            self.postpone(records, exc)
            return None
        pipeline = thread.pipeline()
        batches = []
        for tp, recs in records.items():
            for batch in self.process(pipeline, tp, recs):
                batches.append((tp, batch))
            batches[-1][1].next_offset = _known(position(consumer, tp))
        sizes = thread.services.metrics.batch_size.labels(self.group.id)
        for _, batch in batches:
            sizes.observe(batch.consumed + batch.redelivered)
        return self.line.open(batches, {tp: _known(highwater(consumer, tp)) for tp, _ in batches})

    def process(self, pipeline: Pipeline, tp: TopicPartition, records: Sequence[Record]) -> list[PartitionBatch]:
        """One partition's records: those inside its replay window (replays.py) through the window's routes, under
        its ids and mark; the others as usual. In offset order."""
        marks = self.thread.marks
        window = marks.window(tp)
        if window is None or records[0].offset >= window.end or records[-1].offset < window.start:
            return [pipeline.process(tp.topic, tp.partition, records, marks.get(tp))]
        routes = pipeline.routes.by_topic.get(tp.topic, ())
        chosen = [r for r in routes if not window.routes or r.name in window.routes]
        # Records come in offset order and the window is one span of offsets: two cuts, not a test per record.
        first = bisect_left(records, window.start, key=_offset)
        after = bisect_left(records, window.end, key=_offset)
        batch = pipeline.process(tp.topic, tp.partition, records[first:after], marks.get(tp, window.stream),
                                 only=chosen, id_suffix=window.id_suffix)
        batch.stream = window.stream
        rest = [*records[:first], *records[after:]]
        if not rest:
            return [batch]
        return [batch, pipeline.process(tp.topic, tp.partition, rest, marks.get(tp))]

    def postpone(self, records: Mapping[TopicPartition, Sequence[Record]], error: Exception) -> None:
        """Give the records back (they are fetched again) and wait, paused, before the next poll."""
        for tp, recs in records.items():
            self.consumer.seek(tp, recs[0].offset)
        self.line.hold("redis", error, "cannot read the partitions' marks from Redis; waiting")
        self.pauser.idle_poll(defaults.BACKOFF_MAX / 2)
        self.line.release()

    def finish_all(self) -> None:
        while self.line.in_flight():
            self.finish()

    def finish(self) -> None:
        """Wait for the oldest write in flight; count it and record its offsets for the next commit."""
        done = self.line.finish()
        if done is None:
            return
        written, result = done
        self.accountant.account(written, result)
        for tp, batch in written:
            self.thread.marks.advance(tp, batch.last_offset, batch.stream)
        self.positions.written(written)

    def wait_for_queues(self, gate: QueueGate) -> None:
        thread = self.thread
        thread.log.warning("an RQ queue is above its high watermark; pausing", high=gate.high, low=gate.low)
        thread.services.metrics.backpressure.labels(self.group.id, "queue_full").inc()
        self.pauser.pause_all()
        while gate.closed() and not thread.stop_event.is_set():
            self.pauser.idle_poll(max(gate.interval, 0.05))
            thread.offsets.commit_async(self.consumer)
        thread.log.info("RQ queues below the low watermark; resuming")
        self.pauser.resume_all()


def _known(offset: int | None) -> int:
    """An offset, or -1 for "not known" (how the enqueuer and PartitionBatch say it)."""
    return -1 if offset is None else offset
