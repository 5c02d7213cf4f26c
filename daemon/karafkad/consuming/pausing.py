"""What of a consumer's partitions is paused, and why: all of them while it waits, one at a batch it cannot read.

The consumer waits (for Redis, the dead-letter topic or RQ's queues) with
every partition paused, and keeps polling meanwhile (poll_loop.py's
`wait_paused`), so the group keeps it and its partitions: a poll with every
partition paused returns no records but sends heartbeats and runs
rebalances. Partitions assigned during the wait arrive unpaused and are
paused as they come. A partition whose fetched batch cannot be read is held:
paused until it is revoked, whatever else resumes. A partition an operator
paused (operator_pauses.py) stays paused until the operator resumes it or it
is revoked, whatever else resumes; a partition both held and paused by an
operator stays held.

This is the one owner of that state: the status page asks it what is held,
what an operator paused and why the consumer waits (ConsumerThread.held,
ConsumerThread.operator_paused, ConsumerThread.waiting).
"""

from __future__ import annotations

from collections.abc import Iterable

from structlog.typing import FilteringBoundLogger

from karafkad.clients.kafka.types import ConsumerClient, TopicPartition
from karafkad.clients.kafka.workarounds.fetch_state import BadBatch
from karafkad.observability import Metrics


class Pauser:
    """Pauses and resumes every assigned partition of one consumer, and holds the partitions it cannot read."""

    def __init__(self, consumer: ConsumerClient, group: str, index: int, metrics: Metrics,
                 log: FilteringBoundLogger) -> None:
        self.consumer = consumer
        self.group = group
        self.metrics = metrics
        self.log = log
        self._gauge = metrics.paused.labels(group, str(index))
        """karafkad_paused_partitions of this consumer thread."""
        self.paused = False
        """Every assigned partition is paused (a wait is on)."""
        self.waiting: str | None = None
        """Why every partition is paused, as `reason: error`, from pause_for to resume_all (the status page)."""
        self.held: dict[TopicPartition, BadBatch] = {}
        """Partitions paused until they are revoked, and the batch of each that cannot be read (the status
        page)."""
        self.operator: frozenset[TopicPartition] = frozenset()
        """Partitions paused until an operator resumes them (or they are revoked)."""

    def pause_all(self) -> None:
        assigned = list(self.consumer.assignment())
        if assigned:
            self.consumer.pause(*assigned)
        self.paused = True
        self._gauge.set(len(assigned))

    def resume_all(self) -> None:
        """Resume every partition but the held ones and those an operator paused; the consumer no longer waits
        for anything."""
        self.waiting = None
        paused = [tp for tp in self.consumer.paused() if tp not in self.held and tp not in self.operator]
        if paused:
            self.consumer.resume(*paused)
        self.paused = False
        self._count()

    def obey(self, wanted: Iterable[TopicPartition]) -> None:
        """Keep exactly `wanted` (assigned partitions) paused for an operator: pause those new to it, resume those
        no longer in it (unless held, or while a wait has every partition paused: resume_all resumes them)."""
        keep = frozenset(wanted)
        added, lifted = keep - self.operator, self.operator - keep
        self.operator = keep
        if added:
            self.consumer.pause(*added)
            self.log.info("partitions paused by an operator", partitions=_names(added))
        resumable = [tp for tp in lifted if tp not in self.held]
        if resumable and not self.paused:
            self.consumer.resume(*resumable)
        if lifted:
            self.log.info("partitions resumed by an operator", partitions=_names(lifted))
        if not self.paused:
            self._count()

    def _count(self) -> None:
        """karafkad_paused_partitions while no wait is on: the held partitions and the operator's."""
        self._gauge.set(len(self.held.keys() | self.operator))

    def pause_for(self, reason: str, error: Exception, message: str) -> None:
        """Pause every partition for `reason` (a backpressure reason), saying why: a warning (`message`; "" when
        the cause logs its own), the backpressure counter, the status page's recent problems and its "waiting"
        line. resume_all undoes it."""
        if message:
            self.log.warning(message, error=str(error))
        self.metrics.backpressure.labels(self.group, reason).inc()
        self.metrics.recent.add(reason, str(error), group=self.group)
        self.still_paused_for(reason, error)
        self.pause_all()

    def still_paused_for(self, reason: str, error: Exception) -> None:
        """The cause of a pause changed while it lasts (Redis down, then its new primary without replicas)."""
        self.waiting = f"{reason}: {error}"

    def hold(self, bad: BadBatch) -> None:
        """Pause one partition for good (until it is revoked) at a batch that cannot be read."""
        tp = bad.partition
        self.held[tp] = bad
        self.consumer.pause(tp)
        if not self.paused:
            self._count()
        self.metrics.held.labels(self.group, tp.topic, str(tp.partition)).set(1)

    def release(self, revoked: Iterable[TopicPartition]) -> None:
        """Revoked partitions are no longer held here (their new owner meets the batch itself)."""
        gone = set(revoked)
        for tp in [tp for tp in gone if tp in self.held]:
            self._forget(tp)
        self.operator -= gone  # their new owner pauses them itself

    def release_all(self) -> None:
        """The consumer closed: nothing is held or paused for an operator any more (the next consumer obeys the
        operator's pauses as its partitions are assigned)."""
        for tp in list(self.held):
            self._forget(tp)
        self.operator = frozenset()

    def _forget(self, tp: TopicPartition) -> None:
        del self.held[tp]
        self.metrics.held.remove(self.group, tp.topic, str(tp.partition))


def _names(partitions: Iterable[TopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)
