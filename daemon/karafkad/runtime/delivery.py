"""A consumer thread's writes to Redis: one in flight at a time, in order, retried paused until it lands.

While the consumer thread polls and decides the next batch, a writer thread
sends the previous one: its dead letters to Kafka first (acknowledged), then
its jobs and partition marks to Redis in one call. Only a write that
succeeded is handed back for its offsets to be committed, so no commit runs
ahead of the jobs. A write that fails is retried with capped backoff while
every partition is paused (the member stays in the group); a rebalance
meanwhile drops the revoked partitions from it (their new owner starts from
the last commit, and the Redis marks keep that from becoming a second job);
a drain deadline that passes gives it up, uncommitted, to be consumed again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from structlog.typing import FilteringBoundLogger

from karafkad import defaults
from karafkad.clients.kafka_types import TopicPartition
from karafkad.errors import DeadLetterError, EnqueueError, ReplicasBehind
from karafkad.observability import Metrics
from karafkad.pipeline.outcomes import PartitionBatch
from karafkad.runtime.enqueuer import PartitionWrite, WriteResult
from karafkad.runtime.pausing import Pauser
from karafkad.runtime.services import Services

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
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-writer")
        self._in_flight: Delivery | None = None
        self._open: list[Delivery] = []
        """Deliveries polled but not finished (the one in flight, the one being decided)."""
        self._given_up: set[TopicPartition] = set()
        """Partitions of a delivery given up at the drain deadline: not in Redis, so never to be committed past."""
        self.waiting: str | None = None
        """While a failed write is retried (its partitions paused): why, as `reason: error` (the status page)."""

    @property
    def metrics(self) -> Metrics:
        return self.services.metrics

    def open(self, batches: Delivered, highwater: dict[TopicPartition, int]) -> Delivery:
        """A poll's decided batches, tracked from now on (a rebalance marks its revoked partitions lost)."""
        delivery = Delivery(batches, highwater)
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

    def submit(self, delivery: Delivery) -> None:
        assert self._in_flight is None, "one write in flight at a time"
        delivery.future = self._writer.submit(self._write, delivery, delivery.batches)
        self._in_flight = delivery

    def finish(self) -> tuple[Delivered, WriteResult] | None:
        """Wait for the write in flight (retrying it, paused, if it failed); what it wrote, or None."""
        delivery, self._in_flight = self._in_flight, None
        if delivery is None:
            return None
        assert delivery.future is not None
        try:
            result: WriteResult | None = delivery.future.result()
        except (EnqueueError, DeadLetterError) as exc:
            result = self._retry(delivery, exc)
        finally:
            self._open.remove(delivery)
        return None if result is None else (delivery.live(), result)

    def close(self) -> None:
        self._writer.shutdown(wait=False, cancel_futures=True)
        self._in_flight = None
        self._open = []

    def _write(self, delivery: Delivery, batches: Delivered) -> WriteResult:
        """Dead letters first (acknowledged), then the jobs and marks in one Redis call."""
        for _, batch in batches:
            if batch.dead_letters and not batch.dead_letters_sent:
                self.services.dead_letters.send(batch.dead_letters)
                batch.dead_letters_sent = True
        return self.services.enqueuer.write(
            PartitionWrite(self.group, tp.topic, tp.partition, b.last_offset, b.jobs, delivery.highwater[tp], b.stream)
            for tp, b in batches)

    def _retry(self, delivery: Delivery, first: Exception) -> WriteResult | None:
        """Keep writing the delivery, paused, until it succeeds, its partitions are all revoked, or the drain
        deadline passes (then it is given up: not committed, consumed again later)."""
        reason = _reason(first)
        self.log.warning("cannot deliver; pausing partitions and retrying", error=str(first))
        self.metrics.backpressure.labels(self.group, reason).inc()
        self.metrics.recent.add(reason, str(first), group=self.group)
        self.waiting = f"{reason}: {first}"
        self.pauser.pause_all()
        started = time.monotonic()
        backoff = defaults.BACKOFF_INITIAL
        result = None
        while True:
            deadline = self.deadline()
            if deadline is not None and time.monotonic() >= deadline:
                self.log.error("shutdown deadline reached with a batch not written; its offsets stay "
                               "uncommitted and it will be consumed again", partitions=len(delivery.live()))
                self.abandoned = True
                self._given_up.update(tp for tp, _ in delivery.live())
                break
            self.pauser.idle_poll(backoff)
            backoff = min(backoff * 2, defaults.BACKOFF_MAX)
            live = delivery.live()
            if not live:
                break
            try:
                result = self._write(delivery, live)
                break
            except (EnqueueError, DeadLetterError) as exc:
                # The cause may change while it waits (Redis down, then its new primary without replicas).
                self.waiting = f"{_reason(exc)}: {exc}"
                continue
        if result is not None:
            self.log.info("delivering again; resuming partitions", paused_for=round(time.monotonic() - started, 1))
        self.waiting = None
        self.pauser.resume_all()
        return result


def _reason(error: Exception) -> str:
    """The backpressure reason of a failed write: replicas behind, Redis failing, or a dead-letter topic."""
    if isinstance(error, ReplicasBehind):
        return "replicas"
    return "redis" if isinstance(error, EnqueueError) else "dead_letter"
