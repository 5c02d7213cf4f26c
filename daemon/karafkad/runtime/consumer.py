"""One consumer thread: poll a batch, decide, hand it to the writer, commit what was written.

Each thread is its own member of its consumer group (its own Kafka
consumer). The loop polls and decides batch N+1 while batch N is written
(delivery.py), commits offsets only for what was written (offsets.py), and
pauses instead of losing when Redis, the dead-letter topic or RQ's queues
cannot take more (pausing.py, backpressure.py). Rebalances are collected by
membership.py and acted on between polls. A client that breaks is closed
and replaced with backoff; the member never just dies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

from karafkad import defaults
from karafkad.clients import kafkacompat, kafkaerrors
from karafkad.clients.kafka_types import ConsumerClient, Record, TopicPartition
from karafkad.config.settings import GroupSpec
from karafkad.observability import get_logger
from karafkad.pipeline.steps import Pipeline
from karafkad.routes.table import GroupRoutes
from karafkad.runtime.accounting import Accountant
from karafkad.runtime.backpressure import QueueGate
from karafkad.runtime.delivery import Delivery, DeliveryLine
from karafkad.runtime.marks import Marks
from karafkad.runtime.membership import Membership
from karafkad.runtime.offsets import OffsetBook
from karafkad.runtime.pausing import Pauser
from karafkad.runtime.services import Services

log = get_logger("karafkad.consumer")


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
        self.progressed_at = time.monotonic()
        """When the thread's loop last came round (see defaults.STALL_SECONDS and Supervisor.stalled)."""
        self.abandoned = False
        """Set when a drain deadline passed with a batch that could not be written."""
        self.log = log.bind(group=group.id, thread=index)
        self.offsets = OffsetBook(on_failure=self._commit_failed, log=self.log)
        self.membership = Membership(group.id, index, self.offsets, services.metrics, self.log)
        self.marks = Marks(group.id, services.enqueuer)
        self._pipeline: Pipeline | None = None

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
                    self._consume(consumer)
                    return
                finally:
                    self._close(consumer)
            except Exception as exc:  # a broken client must not end the member: log, back off, rejoin
                error = kafkaerrors.describe(exc, self.services.kafka)
                self.log.error("consumer failed; starting a new one", error=error, retry_in=round(backoff, 1))
                self.services.metrics.recent.add("consumer", error, group=self.group.id)
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, defaults.BACKOFF_MAX * 2)

    def _consume(self, consumer: ConsumerClient) -> None:
        self.membership.consumer = consumer
        consumer.subscribe(topics=list(self.group.topics), listener=self.membership.listener())
        metrics = self.services.metrics
        pauser = Pauser(consumer, metrics.paused.labels(self.group.id, str(self.index)),
                        lambda: self._after_poll(consumer, pauser, line, accountant), self._progressed)
        line = DeliveryLine(self.name, self.group.id, self.services, pauser, self.log, lambda: self.drain_deadline)
        accountant = Accountant(self.group.id, metrics, self.log, self.services.queue_gate,
                                lambda tp: _highwater(consumer, tp))
        self.log.info("consumer started", topics=list(self.group.topics))
        try:
            while not self.stop_event.is_set():
                self._progressed()
                records = consumer.poll(timeout_ms=defaults.POLL_TIMEOUT_MS, max_records=self.group.max_poll_records)
                self._after_poll(consumer, pauser, line, accountant)
                if records and sum(map(len, records.values())) >= self.group.max_poll_records:
                    # A full poll means a backlog: fetch the partitions already drained while this
                    # batch is decided (~25% more throughput). Not when caught up, where the extra
                    # fetch would sit at the broker and delay the next messages.
                    kafkacompat.prefetch(consumer)
                decided = self._decide(consumer, line, records) if records else None
                self._finish(line, accountant)  # the previous batch's write ran while this one was polled and decided
                if decided is not None:
                    line.submit(decided)
                self.offsets.commit_async(consumer)
                gate = self.services.queue_gate
                if gate is not None and gate.closed():
                    self._finish(line, accountant)
                    self._wait_for_queues(consumer, gate, pauser)
            self._finish(line, accountant)  # draining: the batch in hand is written (or given up at the deadline)
        finally:
            self.abandoned = self.abandoned or line.abandoned
            line.close()

    def _after_poll(self, consumer: ConsumerClient, pauser: Pauser, line: DeliveryLine,
                    accountant: Accountant) -> None:
        """Act on the rebalances the last poll ran."""
        revoked, new = self.membership.take_changes()
        if revoked:
            self.marks.forget(revoked)
            accountant.forget(revoked)
            line.lose(revoked)
        if (revoked or new) and pauser.paused:
            pauser.pause_all()  # newly assigned partitions arrive unpaused

    def _decide(self, consumer: ConsumerClient, line: DeliveryLine,
                records: Mapping[TopicPartition, Sequence[Record]]) -> Delivery:
        """Run the pipeline over a poll's records."""
        routes = self.get_routes()
        if self._pipeline is None or self._pipeline.routes is not routes:
            self._pipeline = Pipeline(routes, self.services.daemon.max_message_bytes)
        pipeline = self._pipeline
        self.marks.load(records)
        batches = [(tp, pipeline.process(tp.topic, tp.partition, recs, self.marks.get(tp)))
                   for tp, recs in records.items()]
        sizes = self.services.metrics.batch_size.labels(self.group.id)
        for _, batch in batches:
            sizes.observe(batch.consumed + batch.redelivered)
        return line.open(batches, {tp: _highwater(consumer, tp) for tp, _ in batches})

    def _finish(self, line: DeliveryLine, accountant: Accountant) -> None:
        """Wait for the write in flight; count it and record its offsets for the next commit."""
        done = line.finish()
        if done is None:
            return
        written, result = done
        accountant.account(written, result)
        for tp, batch in written:
            self.marks.advance(tp, batch.last_offset)
        if written:
            self.offsets.record({tp: b.last_offset + 1 for tp, b in written})

    def _wait_for_queues(self, consumer: ConsumerClient, gate: QueueGate, pauser: Pauser) -> None:
        self.log.warning("an RQ queue is above its high watermark; pausing", high=gate.high, low=gate.low)
        self.services.metrics.backpressure.labels(self.group.id, "queue_full").inc()
        pauser.pause_all()
        while gate.closed() and not self.stop_event.is_set():
            pauser.idle_poll(max(gate.interval, 0.05))
            self.offsets.commit_async(consumer)
        self.log.info("RQ queues below the low watermark; resuming")
        pauser.resume_all()

    def _close(self, consumer: ConsumerClient) -> None:
        self.membership.consumer = None
        self.offsets.commit_sync(consumer)
        try:
            consumer.close(autocommit=False, timeout_ms=5000)  # leaves the group at once
        except Exception as exc:
            self.log.warning("consumer close failed", error=str(exc))
        self.membership.left()
        self.log.info("consumer closed")

    def _progressed(self) -> None:
        self.progressed_at = time.monotonic()

    def _commit_failed(self, error: BaseException) -> None:
        self.services.metrics.commit_failures.labels(self.group.id).inc()
        self.log.warning("commit failed; will retry", error=f"{type(error).__name__}: {error}")


def _highwater(consumer: ConsumerClient, tp: TopicPartition) -> int:
    """The partition's log end as last fetched, or -1 when unknown."""
    try:
        value = consumer.highwater(tp)
    except Exception:  # kafka-python asserts the partition is assigned; revoked meanwhile is "unknown"
        return -1
    return int(value) if value is not None else -1
