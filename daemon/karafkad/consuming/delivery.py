"""A consumer thread's writes to Redis: up to two in flight, in order, each retried paused until it lands.

While the consumer thread polls and decides the next batch, a writer thread
sends the earlier ones, one after the other: a batch's dead letters to Kafka
first (acknowledged), then its jobs and its partitions' marks to Redis in
one call. Only a write that succeeded is handed back, oldest first, for its
commit offsets to be recorded, so no commit runs ahead of the jobs.

A write that fails is retried with capped backoff while every partition is
paused. The line never waits for that itself: `finish` answers
`RetryLater(seconds)`, and the poll loop (poll_loop.py) waits that long in
the group (a poll with every partition paused, so the member keeps its
partitions), acts on the rebalances that poll ran, and calls `finish` again.
A rebalance therefore reaches the line between two of its steps, never
inside one: `lose` drops the revoked partitions from the delivery being
retried (their new owner starts from the last commit, and the Redis marks
keep that from becoming a second job), and the next try writes only what is
still this member's. A drain deadline that passes gives the write up,
uncommitted, to be consumed again.

Why the retry hands control back rather than polling from inside `finish`
(as it once did, through the pauser): a poll runs rebalances, and acting on
them changes the line, so a retry that polled changed the delivery it was
finishing under its own feet, and only a reader who followed poll ->
rebalance -> lose knew why it had to look at the delivery again after each
wait. Now each step runs on a line nobody else touches, every poll of the
thread is in the loop, and the loop's three waits (a failed write, marks
Redis cannot give, a full RQ queue) are one pattern.

With two writes in flight, the later one may reach Redis while the earlier
one is failing. The enqueuer's rule (store/enqueuer.py) keeps that from
losing anything: each partition's part of the later write names the last
offset of the earlier batch of its mark (`after`), and Redis holds the part
back unless the mark already reaches it. A held part is written once the
earlier batch is; if the earlier one was given up at the drain deadline,
the later one is given up with it. tests/integration/test_writes_in_flight.py
injects the failed earlier write; tests/unit/consuming/test_delivery.py
walks each case with a fake enqueuer.
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
    """Each partition's highwater after the poll (-1: not known), written with its part (a mark above it means
    the topic was recreated)."""
    lost: set[TopicPartition] = field(default_factory=set)
    """Partitions revoked since the poll, or given up at the drain deadline: not committed, not retried."""
    sent: Delivered = field(default_factory=list)
    """What the first write of it carried (the batches not lost when it was submitted), in order."""
    after: dict[MarkOf, int] = field(default_factory=dict)
    """For each mark an earlier delivery still in flight moves, that batch's last offset: this delivery's part
    for the mark is written only once the mark reaches it (see the module docstring)."""
    future: Future[WriteResult] | None = None

    def live(self) -> Delivered:
        return [(tp, b) for tp, b in self.batches if tp not in self.lost]


@dataclass(frozen=True)
class Finished:
    """The oldest delivery's end: what of it is in Redis."""

    written: Delivered
    """Its batches that are this member's and written (not those revoked or given up): to be counted, and their
    commit offsets recorded."""
    result: WriteResult | None
    """What its writes did; None: nothing was written (every partition revoked, or given up)."""
    gave_up: bool = False
    """A part of it was given up at the drain deadline: not in Redis, never committed, consumed again later."""


@dataclass(frozen=True)
class RetryLater:
    """The oldest delivery's write failed and every partition is paused: wait `seconds` in the group (acting on
    the rebalances meanwhile), then call DeliveryLine.finish again."""

    seconds: float


@dataclass
class _Retry:
    """The failed write of the oldest delivery, between two tries."""

    parts: Delivered
    """What is written again (less what is revoked or given up by then)."""
    first: WriteResult | None
    """What the delivery's first write did, when the write that failed was of the parts Redis held back from it
    (the delivery's result is then both)."""
    started: float
    backoff: float
    """Seconds to wait before the next try."""


class DeliveryLine:
    """The deliveries of one consumer: decided, in flight, done."""

    def __init__(self, name: str, group: str, services: Services, pauser: Pauser, log: FilteringBoundLogger,
                 deadline: Callable[[], float | None]) -> None:
        self.group = group
        self.services = services
        self.pauser = pauser
        """Pauses every partition, saying why, while a failed write is retried (never polls: see above)."""
        self.log = log
        self.deadline = deadline
        """The drain deadline (monotonic), once a drain began: a write still failing then is given up."""
        # One writer thread: the writes reach Redis in the order they were submitted.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-writer")
        self._in_flight: deque[PollDelivery] = deque()
        """Submitted and not finished, oldest first (the oldest stays here while its write is retried)."""
        self._open: list[PollDelivery] = []
        """Deliveries polled but not finished (those in flight, the one being decided)."""
        self._given_up: set[TopicPartition] = set()
        """Partitions of a delivery given up at the drain deadline: not in Redis, so never to be committed past."""
        self._retry: _Retry | None = None
        """The oldest delivery's failed write, while it is retried."""

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
        """The partitions whose commit offset must stay where it is (not move to their position): those of the
        deliveries not finished yet, and those of a delivery given up."""
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

    def finish(self) -> Finished | RetryLater | None:
        """One step of the oldest write in flight (None: there is none): wait for its answer and write what Redis
        held back of it for an earlier batch, or, after a RetryLater, try its failed write again. Finished: it
        left the line; RetryLater: wait, paused in the group, and call again."""
        if not self._in_flight:
            return None
        delivery = self._in_flight[0]
        step = self._answer(delivery) if self._retry is None else self._try_again(delivery, self._retry)
        if isinstance(step, Finished):
            self._in_flight.popleft()
            self._open.remove(delivery)
        return step

    def close(self) -> None:
        self._writer.shutdown(wait=False, cancel_futures=True)
        self._in_flight.clear()
        self._open = []
        self._retry = None

    def _answer(self, delivery: PollDelivery) -> Finished | RetryLater:
        """The first write's answer (waiting for it), and the parts Redis held back from it written now, unguarded:
        the earlier deliveries are finished."""
        assert delivery.future is not None
        try:
            written = delivery.future.result()
        except (EnqueueError, DeadLetterError) as exc:
            return self._failed(delivery, exc, delivery.batches, None)
        if not written.held:
            return Finished(delivery.live(), written)
        parts = self._unguarded(delivery, [delivery.sent[i] for i in written.held])
        if not parts:
            return Finished(delivery.live(), _combined(written, None))
        try:
            again = self._write(delivery, parts, False)
        except (EnqueueError, DeadLetterError) as exc:
            return self._failed(delivery, exc, parts, written)
        return Finished(delivery.live(), _combined(written, again))

    def _failed(self, delivery: PollDelivery, error: Exception, parts: Delivered,
                first: WriteResult | None) -> Finished | RetryLater:
        """A write of `parts` failed: pause every partition, saying why, and have it retried (or give it up)."""
        self.pauser.pause_for(_reason(error), error, "cannot deliver; pausing partitions and retrying")
        self._retry = _Retry(parts, first, time.monotonic(), defaults.BACKOFF_INITIAL)
        return self._later_or_given_up(delivery, self._retry)

    def _try_again(self, delivery: PollDelivery, retry: _Retry) -> Finished | RetryLater:
        """The caller waited: write again what is still this member's (a rebalance meanwhile lost some)."""
        live = self._unguarded(delivery, retry.parts)
        if not live:
            return self._end_retry(delivery, None)
        try:
            result = self._write(delivery, live, False)
        except (EnqueueError, DeadLetterError) as exc:
            # The cause may change while it waits (Redis down, then its new primary without replicas).
            self.pauser.still_paused_for(_reason(exc), exc)
            return self._later_or_given_up(delivery, retry)
        self.log.info("delivering again; resuming partitions", paused_for=round(time.monotonic() - retry.started, 1))
        return self._end_retry(delivery, result)

    def _later_or_given_up(self, delivery: PollDelivery, retry: _Retry) -> Finished | RetryLater:
        """Wait the next backoff and try again; past the drain deadline, give the write up instead: not
        committed, consumed again later."""
        deadline = self.deadline()
        if deadline is not None and time.monotonic() >= deadline:
            parts = {tp for tp, _ in retry.parts if tp not in delivery.lost}
            self.log.error("shutdown deadline reached with a batch not written; its offsets stay "
                           "uncommitted and it will be consumed again", partitions=len(parts))
            self._given_up.update(parts)
            delivery.lost.update(parts)
            return self._end_retry(delivery, None, gave_up=True)
        seconds = retry.backoff
        retry.backoff = min(retry.backoff * 2, defaults.BACKOFF_MAX)
        return RetryLater(seconds)

    def _end_retry(self, delivery: PollDelivery, result: WriteResult | None, *, gave_up: bool = False) -> Finished:
        """The retry is over (written, revoked or given up): resume, and hand back what the delivery wrote."""
        assert self._retry is not None
        first, self._retry = self._retry.first, None
        self.pauser.resume_all()
        return Finished(delivery.live(), result if first is None else _combined(first, result), gave_up)

    def _write(self, delivery: PollDelivery, batches: Delivered, guarded: bool) -> WriteResult:
        """Dead letters first (acknowledged), then the jobs and marks in one Redis call; `guarded`: each part
        waits for the earlier delivery's batch of its mark (PollDelivery.after)."""
        for _, batch in batches:
            if batch.dead_letters and not batch.dead_letters_sent:
                self.services.dead_letters.send(batch.dead_letters)
                batch.dead_letters_sent = True
        return self.services.enqueuer.write(
            PartitionWrite(self.group, tp.topic, tp.partition, b.last_offset, b.jobs, self._highwater(tp), b.stream,
                           after=delivery.after.get((tp, b.stream), -1) if guarded else -1)
            for tp, b in batches)

    def _highwater(self, tp: TopicPartition) -> int:
        """The partition's highwater for a write: the newest of the open deliveries' (-1: not known), not the
        one of the delivery written. The enqueue script takes a mark at or above it for a stale one (a topic
        made anew) and writes the batch again. A write that reached Redis and failed after (a replica's
        acknowledgement that did not come) is retried after the later delivery's write moved the mark past
        its own poll's highwater: with that highwater, both batches were enqueued twice (a suite run)."""
        return max((d.highwater.get(tp, -1) for d in self._open), default=-1)

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
