"""A consumer thread's writes to Redis: up to two in flight, in order, each retried paused until it lands.

While the consumer thread polls and decides the next batch, a writer thread
sends the earlier ones, one after the other: a batch's dead letters to Kafka
first (acknowledged), then its jobs and partition marks to Redis in one
call. Only a write that succeeded is handed back, oldest first, for its
offsets to be committed, so no commit runs ahead of the jobs. A write that
fails is retried with capped backoff while every partition is paused (the
member stays in the group); a rebalance meanwhile drops the revoked
partitions from it (their new owner starts from the last commit, and the
Redis marks keep that from becoming a second job); a drain deadline that
passes gives it up, uncommitted, to be consumed again.

With two writes in flight, the later one may reach Redis while the earlier
one is failing. The enqueuer's rule (store/enqueuer.py) keeps that from
losing anything: each partition's part of the later write names where the
earlier batch of that partition ends (`after`), and Redis holds the part
back unless the earlier batch is written. A held part is written once the
earlier one is; if the earlier one was given up at the drain deadline, the
later one is given up with it. tests/integration/test_writes_in_flight.py injects
the failed earlier write.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from structlog.typing import FilteringBoundLogger

from karafkad import defaults
from karafkad.clients.kafka.types import TopicPartition
from karafkad.consuming.pausing import Pauser
from karafkad.consuming.services import Services
from karafkad.errors import DeadLetterError, EnqueueError, ReplicasBehind
from karafkad.observability import Metrics
from karafkad.pipeline.outcomes import PartitionBatch
from karafkad.store.enqueuer import PartitionWrite, WriteResult

Delivered = list[tuple[TopicPartition, PartitionBatch]]

WRITES_IN_FLIGHT = 2
"""Writes a consumer thread may have on their way to Redis while it polls and decides the next batch. Two
keep Redis busy while a write's reply travels back (replica acknowledgements, a Redis across the network);
more would only hold more batches in memory: the thread waits for the oldest when a third is decided."""

MarkOf = tuple[TopicPartition, str]
"""A partition's dedupe mark: the partition and the batch's stream (see PartitionBatch.stream)."""


@dataclass
class PollDelivery:
    """One poll's decided batches on their way to Redis."""

    batches: Delivered
    highwater: dict[TopicPartition, int]
    lost: set[TopicPartition] = field(default_factory=set)
    """Partitions revoked since the poll, or given up at the drain deadline: not committed, not retried."""
    sent: Delivered = field(default_factory=list)
    """What the first write of it carried (the batches not lost when it was submitted), in order."""
    after: dict[MarkOf, int] = field(default_factory=dict)
    """Marks an earlier delivery still in flight moves, and the offset it moves them to: this delivery's part
    for that mark is written only once the earlier one is (see the module docstring)."""
    future: Future[WriteResult] | None = None

    def live(self) -> Delivered:
        return [(tp, b) for tp, b in self.batches if tp not in self.lost]


class DeliveryLine:
    """The deliveries of one consumer: decided, in flight, done."""

    def __init__(self, name: str, group: str, services: Services, pauser: Pauser, log: FilteringBoundLogger,
                 deadline: Callable[[], float | None]) -> None:
        self.group = group
        self.services = services
        self.pauser = pauser
        self.log = log
        self.deadline = deadline
        """The drain deadline (monotonic), once a drain began: a write still failing then is given up."""
        self.abandoned = False
        """Set when a drain deadline passed with a batch that could not be written."""
        # One writer thread: the writes reach Redis in the order they were submitted.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-writer")
        self._in_flight: deque[PollDelivery] = deque()
        """Submitted and not finished, oldest first."""
        self._open: list[PollDelivery] = []
        """Deliveries polled but not finished (the one in flight, the one being decided)."""
        self._given_up: set[TopicPartition] = set()
        """Partitions of a delivery given up at the drain deadline: not in Redis, so never to be committed past."""
        self.waiting: str | None = None
        """While a failed write is retried (its partitions paused): why, as `reason: error` (the status page)."""

    @property
    def metrics(self) -> Metrics:
        return self.services.metrics

    def open(self, batches: Delivered, highwater: dict[TopicPartition, int]) -> PollDelivery:
        """A poll's decided batches, tracked from now on (a rebalance marks its revoked partitions lost)."""
        delivery = PollDelivery(batches, highwater)
        self._open.append(delivery)
        return delivery

    def lose(self, revoked: Iterable[TopicPartition]) -> None:
        """These partitions were revoked: the open deliveries neither commit nor retry them."""
        for delivery in self._open:
            delivery.lost.update(revoked)
        self._given_up.difference_update(revoked)

    def busy(self) -> set[TopicPartition]:
        """The partitions whose offsets must not be committed past where they are: those of the deliveries not
        finished yet, and those of a delivery given up."""
        return {tp for delivery in self._open for tp, _ in delivery.batches} | self._given_up

    def in_flight(self) -> int:
        return len(self._in_flight)

    def full(self) -> bool:
        """As many writes in flight as allowed: the oldest must finish before another is submitted."""
        return len(self._in_flight) >= WRITES_IN_FLIGHT

    def oldest_done(self) -> bool:
        """The oldest write in flight has its answer (finishing it will not wait)."""
        return bool(self._in_flight) and self._in_flight[0].future is not None and self._in_flight[0].future.done()

    def submit(self, delivery: PollDelivery) -> None:
        assert not self.full(), f"at most {WRITES_IN_FLIGHT} writes in flight"
        # A partition given up at the drain deadline is never written past: its batch is not in Redis.
        delivery.lost.update(tp for tp, _ in delivery.batches if tp in self._given_up)
        for earlier in self._in_flight:
            for tp, batch in earlier.live():
                delivery.after[(tp, batch.stream)] = batch.last_offset
        delivery.sent = delivery.live()
        delivery.future = self._writer.submit(self._write, delivery, delivery.sent, True)
        self._in_flight.append(delivery)

    def finish(self) -> tuple[Delivered, WriteResult] | None:
        """Wait for the oldest write in flight (retrying it, paused, if it failed; writing again what Redis held
        back for an earlier batch); what it wrote, or None."""
        if not self._in_flight:
            return None
        delivery = self._in_flight.popleft()
        assert delivery.future is not None
        try:
            result: WriteResult | None
            try:
                written = delivery.future.result()
            except (EnqueueError, DeadLetterError) as exc:
                result = self._retry(delivery, exc, delivery.batches)
            else:
                held = [delivery.sent[i] for i in written.held]
                result = _combined(written, self._write_held(delivery, held)) if held else written
        finally:
            self._open.remove(delivery)
        return None if result is None else (delivery.live(), result)

    def close(self) -> None:
        self._writer.shutdown(wait=False, cancel_futures=True)
        self._in_flight.clear()
        self._open = []

    def _write(self, delivery: PollDelivery, batches: Delivered, guarded: bool) -> WriteResult:
        """Dead letters first (acknowledged), then the jobs and marks in one Redis call; `guarded`: each part
        waits for the earlier delivery's batch of its mark (PollDelivery.after)."""
        for _, batch in batches:
            if batch.dead_letters and not batch.dead_letters_sent:
                self.services.dead_letters.send(batch.dead_letters)
                batch.dead_letters_sent = True
        return self.services.enqueuer.write(
            PartitionWrite(self.group, tp.topic, tp.partition, b.last_offset, b.jobs, delivery.highwater[tp], b.stream,
                           after=delivery.after.get((tp, b.stream), -1) if guarded else -1)
            for tp, b in batches)

    def _unguarded(self, delivery: PollDelivery, batches: Delivered) -> Delivered:
        """What of `batches` may be written now without a guard, the earlier deliveries being finished: not
        what was revoked, and not a part whose earlier batch was given up (it must not land past it: it is
        given up too)."""
        keep = []
        for tp, batch in batches:
            if tp in delivery.lost:
                continue
            if (tp, batch.stream) in delivery.after and tp in self._given_up:
                delivery.lost.add(tp)
                continue
            keep.append((tp, batch))
        return keep

    def _write_held(self, delivery: PollDelivery, held: Delivered) -> WriteResult | None:
        """The parts Redis held back, written now that the earlier batches are finished."""
        parts = self._unguarded(delivery, held)
        if not parts:
            return None
        try:
            return self._write(delivery, parts, False)
        except (EnqueueError, DeadLetterError) as exc:
            return self._retry(delivery, exc, parts)

    def _retry(self, delivery: PollDelivery, first: Exception, batches: Delivered) -> WriteResult | None:
        """Keep writing `batches` of the delivery, paused, until it succeeds, its partitions are all revoked, or
        the drain deadline passes (then it is given up: not committed, consumed again later)."""
        self.hold(_reason(first), first, "cannot deliver; pausing partitions and retrying")
        started = time.monotonic()
        backoff = defaults.BACKOFF_INITIAL
        result = None
        while True:
            deadline = self.deadline()
            if deadline is not None and time.monotonic() >= deadline:
                parts = {tp for tp, _ in batches if tp not in delivery.lost}
                self.log.error("shutdown deadline reached with a batch not written; its offsets stay "
                               "uncommitted and it will be consumed again", partitions=len(parts))
                self.abandoned = True
                self._given_up.update(parts)
                delivery.lost.update(parts)
                break
            self.pauser.idle_poll(backoff)
            backoff = min(backoff * 2, defaults.BACKOFF_MAX)
            live = self._unguarded(delivery, batches)
            if not live:
                break
            try:
                result = self._write(delivery, live, False)
                break
            except (EnqueueError, DeadLetterError) as exc:
                # The cause may change while it waits (Redis down, then its new primary without replicas).
                self.waiting = f"{_reason(exc)}: {exc}"
                continue
        if result is not None:
            self.log.info("delivering again; resuming partitions", paused_for=round(time.monotonic() - started, 1))
        self.release()
        return result

    def hold(self, reason: str, error: Exception, message: str) -> None:
        """Pause every partition for `reason` (a backpressure reason), saying why: a warning, the backpressure
        counter, the status page's recent problems and its "waiting" line. `release` undoes it."""
        self.log.warning(message, error=str(error))
        self.metrics.backpressure.labels(self.group, reason).inc()
        self.metrics.recent.add(reason, str(error), group=self.group)
        self.waiting = f"{reason}: {error}"
        self.pauser.pause_all()

    def release(self) -> None:
        self.waiting = None
        self.pauser.resume_all()


def _combined(first: WriteResult, then: WriteResult | None) -> WriteResult:
    """A delivery's result after its held parts were written again: what both writes did (`then` None:
    nothing was, the parts being revoked or given up)."""
    if then is None:
        return replace(first, held=())
    return WriteResult(first.written + then.written, first.duplicates + then.duplicates,
                       first.seconds + then.seconds)


def _reason(error: Exception) -> str:
    """The backpressure reason of a failed write: replicas behind, Redis failing, or a dead-letter topic."""
    if isinstance(error, ReplicasBehind):
        return "replicas"
    return "redis" if isinstance(error, EnqueueError) else "dead_letter"
