"""One Kafka consumer's poll loop: poll, act on the rebalances, decide, deliver, commit; wait paused when it must.

A ConsumerThread (consumer.py) runs one PollLoop for each Kafka consumer it
makes. A turn polls and decides batch N+2 while batches N and N+1 are
written (delivery.py), then records the commit offsets of what was written
(positions.py) and commits them (offsets.py). The partitions of a sized
batch route's topic are gathered across polls first (gathering.py), and
decided once their batch is full or has waited its max_wait; a drain
decides what is gathered before it ends. The rebalances a poll ran were
collected by membership.py; `poll` acts on them before it returns, so every
other unit sees a rebalance between two of its calls, never inside one.

This loop is the only caller of the consumer's poll. When the thread must
wait (a failed write between two tries, marks Redis cannot give, an RQ
queue above its high watermark), it waits one way: `wait_paused`, a poll
with every partition paused (heartbeats and rebalances go on, the member
keeps its partitions), repeated until the cause is gone; pausing.py says
why on the status page. A batch the client cannot read holds its partition;
the others go on. After every poll the loop obeys the operators' pauses
(operator_pauses.py) when they changed or the partitions moved: a paused
partition is paused in the consumer, which keeps polling (and its
membership); nothing of it is lost, its position stays where it was.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Protocol

from structlog.typing import FilteringBoundLogger

from karafkad import defaults
from karafkad.clients.kafka.types import ConsumerClient, Record, TopicPartition
from karafkad.clients.kafka.workarounds import patches
from karafkad.clients.kafka.workarounds.fetch_state import BadBatch, position, set_aside_bad_batch
from karafkad.config.settings import GroupSpec
from karafkad.consuming.accounting import Accountant
from karafkad.consuming.backpressure import QueueGate
from karafkad.consuming.deciding import decide
from karafkad.consuming.delivery import DeliveryLine, PollDelivery, RetryLater
from karafkad.consuming.gathering import Gatherer
from karafkad.consuming.marks_cache import Marks
from karafkad.consuming.membership import Membership
from karafkad.consuming.offsets import OffsetBook
from karafkad.consuming.pausing import Pauser
from karafkad.consuming.positions import Positions, highwater
from karafkad.consuming.services import Services
from karafkad.errors import EnqueueError, RegistryUnavailable
from karafkad.pipeline.steps import Pipeline
from karafkad.routes.registry_decoding import batch_schema_ids

Records = Mapping[TopicPartition, Sequence[Record]]
"""A poll's records, by partition, each partition's in offset order."""


class Member(Protocol):
    """What a poll loop needs of the consumer thread it runs in (consumer.ConsumerThread), which outlives it."""

    name: str
    index: int
    group: GroupSpec
    services: Services
    log: FilteringBoundLogger
    instance_id: str | None
    stop_event: threading.Event
    drain_deadline: float | None
    """Set by the supervisor when a drain begins: a write still failing then is given up."""
    abandoned: bool
    """The thread's one record that a batch was given up at the drain deadline; the loop sets it."""
    membership: Membership
    offsets: OffsetBook
    marks: Marks

    def pipeline(self) -> Pipeline: ...

    def progressed(self) -> None: ...


class PollLoop:
    """One Kafka consumer's life in a ConsumerThread: the poll loop and the units it drives."""

    def __init__(self, member: Member, consumer: ConsumerClient) -> None:
        self.member = member
        self.consumer = consumer
        self.group = member.group
        services = member.services
        metrics = services.metrics
        self.pauser = Pauser(consumer, self.group.id, member.index, metrics, member.log)
        self.line = DeliveryLine(member.name, self.group.id, services, self.pauser, member.log,
                                 lambda: member.drain_deadline)
        self.accountant = Accountant(self.group.id, metrics, member.log, services.queue_gate)
        self.positions = Positions(self.group.id, consumer, member.offsets, metrics,
                                   read_committed=self.group.isolation_level == "read_committed")
        self.gatherer = Gatherer()
        self._obeyed: tuple[int, object] | None = None
        """(the operators' pauses version, the group's routes) last obeyed."""

    def consume(self) -> None:
        """Poll, decide, deliver and commit until the thread is told to stop; then see the writes in hand to
        their end (the drain)."""
        member, consumer, group = self.member, self.consumer, self.group
        member.membership.consumer = consumer
        consumer.subscribe(topics=list(group.topics), listener=member.membership.listener())
        member.log.info("consumer started", topics=list(group.topics), instance_id=member.instance_id,
                        isolation_level=group.isolation_level, assignment_strategy=group.assignment_strategy)
        try:
            while not member.stop_event.is_set():
                member.progressed()
                # A poll waits at most until a gathered batch's max_wait ends: it is decided after the poll.
                records = self.poll(self.gatherer.wait_ms(defaults.POLL_TIMEOUT_MS))
                if records and sum(map(len, records.values())) >= group.max_poll_records:
                    # A full poll means a backlog: fetch the partitions already drained while this
                    # batch is decided (~25% more throughput). Not when caught up, where the extra
                    # fetch would sit at the broker and delay the next messages.
                    patches.prefetch(consumer)
                ready = self.gatherer.gather(records, member.pipeline().routes.spec)
                decided = self.decide(ready) if ready else None
                # The earlier batches' writes ran while this one was polled and decided. They are seen to
                # the end oldest first: when they already have their answer, when a third write would be
                # in flight, and when this poll brought nothing to write.
                line = self.line
                while line.in_flight() and (decided is None or line.full() or line.oldest_done()):
                    self.finish()
                if decided is not None:
                    line.submit(decided)
                assigned = member.membership.assignment
                # A partition with records gathered is past them: its position is no commit offset yet.
                self.positions.moved(assigned, line.busy() | self.gatherer.partitions())
                self.positions.update_lag(assigned)
                member.offsets.commit_async(consumer)
                gate = member.services.queue_gate
                if gate is not None and gate.closed():
                    self.finish_all()
                    self.wait_for_queues(gate)
            # Draining: what is gathered is decided, and the batches in hand are written (or given up at the
            # deadline), before the thread commits and leaves.
            self.decide_gathered()
            self.finish_all()
        finally:
            self.line.close()

    def poll(self, timeout_ms: int) -> Records:
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

    def wait_paused(self, seconds: float) -> None:
        """Wait while staying in the group: one poll with every partition paused (its rebalances acted on). Only
        a partition assigned during the wait can return records: they are given back, to be fetched later."""
        self.member.progressed()
        records = self.poll(int(seconds * 1000))
        for tp, recs in records.items():
            self.consumer.seek(tp, recs[0].offset)
        self.pauser.pause_all()

    def hold(self, bad: BadBatch) -> None:
        """Hold the partition of a batch the client cannot read, and say so (metric, recent problems, log)."""
        tp, metrics = bad.partition, self.member.services.metrics
        self.pauser.hold(bad)
        metrics.unreadable.labels(self.group.id, tp.topic).inc()
        where = f"{tp.topic}[{tp.partition}]@{bad.offset}"
        metrics.recent.add("unreadable batch", f"{where}: {bad.error}", group=self.group.id, topic=tp.topic,
                           partition=tp.partition, offset=bad.offset)
        self.member.log.error("a fetched batch cannot be read; its partition is held (the others go on "
                              "consuming). Nothing of it is committed; it is read again when the partition is "
                              "next assigned", topic=tp.topic, partition=tp.partition, offset=bad.offset,
                              error=bad.error)

    def after_poll(self) -> None:
        """Act on the rebalances the last poll ran."""
        revoked, new = self.member.membership.take_changes()
        if revoked:
            self.gatherer.drop(revoked)  # their new owner reads them again from the last commit
            self.member.marks.forget(revoked)
            self.positions.forget(revoked)
            self.line.lose(revoked)
            self.pauser.release(revoked)
        if (revoked or new) and self.pauser.paused:
            self.pauser.pause_all()  # newly assigned partitions arrive unpaused
        self.obey_operators(bool(revoked or new))

    def obey_operators(self, moved: bool) -> None:
        """Pause what the operators paused of this member's partitions, resume what they resumed: when the pauses
        or the routes changed since last time, or the partitions moved (an attribute read otherwise)."""
        pauses, routes = self.member.services.pauses, self.member.pipeline().routes
        seen = (pauses.version, routes)
        if not moved and seen == self._obeyed:
            return
        self._obeyed = seen
        self.pauser.obey(pauses.partitions(routes, self.member.membership.assignment))

    def decide(self, records: Records) -> PollDelivery | None:
        """Run the pipeline over a poll's records, or a gathered batch (None: postponed, Redis could not say what
        was handled, or the schema registry could not give the records' schemas). A partition with records still
        gathered behind its batch has the batch committed at its last offset + 1: its position is past what is
        gathered."""
        member, consumer, gatherer = self.member, self.consumer, self.gatherer
        try:
            member.marks.load(records)
        except EnqueueError as exc:
            self.postpone(records, exc, "redis", "cannot read the partitions' marks from Redis; waiting")
            return None
        pipeline = member.pipeline()
        schemas = pipeline.routes.schemas
        if schemas is not None:
            # The writer schemas of the batch's framed records, before any is decided: the pipeline reads them
            # from the store only (one fetch per schema id for the process's life; none once they are known).
            try:
                schemas.fetch(batch_schema_ids(pipeline.routes.registry_topics, records))
            except RegistryUnavailable as exc:
                # The store logged the outage once; the status page's "waiting" line says it meanwhile.
                self.postpone(records, exc, "schema_registry", "", schemas.retry_in())
                return None
        batches = decide(pipeline, member.marks, records,
                         lambda tp: -1 if gatherer.holds(tp) else _known(position(consumer, tp)))
        sizes = member.services.metrics.batch_size.labels(self.group.id)
        for _, batch in batches:
            sizes.observe(batch.consumed + batch.redelivered)
        return self.line.open(batches, {tp: _known(highwater(consumer, tp)) for tp, _ in batches})

    def postpone(self, records: Records, error: Exception, reason: str, message: str,
                 seconds: float = defaults.BACKOFF_MAX / 2) -> None:
        """Give the records back (they are fetched again, and with them what was gathered behind them) and wait,
        paused, `seconds` before the next poll, saying why (`message`: the warning logged; "": none)."""
        for tp, recs in records.items():
            self.consumer.seek(tp, recs[0].offset)
        self.gatherer.drop(records)
        self.pauser.pause_for(reason, error, message)
        self.wait_paused(seconds)
        self.pauser.resume_all()

    def wait_for_queues(self, gate: QueueGate) -> None:
        """Wait, paused, until every RQ queue is below its low watermark; commit meanwhile."""
        member = self.member
        member.log.warning("an RQ queue is above its high watermark; pausing", high=gate.high, low=gate.low)
        member.services.metrics.backpressure.labels(self.group.id, "queue_full").inc()
        self.pauser.pause_all()
        while gate.closed() and not member.stop_event.is_set():
            self.wait_paused(max(gate.interval, 0.05))
            member.offsets.commit_async(self.consumer)
        member.log.info("RQ queues below the low watermark; resuming")
        self.pauser.resume_all()

    def decide_gathered(self) -> None:
        """Decide and submit every record gathered, full batch or not (a drain)."""
        gathered = self.gatherer.take_all()
        decided = self.decide(gathered) if gathered else None
        if decided is None:
            return
        while self.line.full():
            self.finish()
        self.line.submit(decided)

    def finish_all(self) -> None:
        while self.line.in_flight():
            self.finish()

    def finish(self) -> None:
        """See the oldest write in flight to its end, then count it, advance the marks it moved and record its
        commit offsets. While its write fails, wait here, paused, between the line's tries: the rebalances
        of those polls reach the line between two of its steps (delivery.py says why)."""
        step = self.line.finish()
        while isinstance(step, RetryLater):
            self.wait_paused(step.seconds)
            step = self.line.finish()
        if step is None:
            return
        if step.gave_up:
            self.member.abandoned = True
        if step.result is None:
            return
        self.accountant.account(step.written, step.result)
        for tp, batch in step.written:
            self.member.marks.advance(tp, batch.last_offset, batch.stream)
        self.positions.written(step.written)


def _known(offset: int | None) -> int:
    """A position or a highwater, or -1 for "not known" (how the enqueuer and PartitionBatch say it)."""
    return -1 if offset is None else offset
