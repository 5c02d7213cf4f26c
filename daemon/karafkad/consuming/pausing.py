"""Pausing a consumer's partitions while it waits (for Redis, the dead-letter topic or RQ's queues).

A paused member keeps polling, so the group keeps it and its partitions: a
poll with every partition paused returns no records but sends heartbeats
and runs rebalances. Partitions assigned during the wait arrive unpaused
and are paused as they come.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from prometheus_client import Gauge

from karafkad.clients.kafka.types import ConsumerClient, Record, TopicPartition


class Pauser:
    """Pauses and resumes every assigned partition of one consumer, and waits in the group meanwhile."""

    def __init__(self, consumer: ConsumerClient, gauge: Gauge,
                 poll: Callable[[int], Mapping[TopicPartition, Sequence[Record]]],
                 progressed: Callable[[], None]) -> None:
        self.consumer = consumer
        self.gauge = gauge
        """karafkad_paused_partitions of this consumer thread."""
        self.poll = poll
        """The consumer thread's poll (it also acts on the rebalances the poll ran)."""
        self.progressed = progressed
        """Tells the stall watchdog that the thread is alive (see defaults.STALL_SECONDS)."""
        self.paused = False
        self.held: set[TopicPartition] = set()
        """Partitions paused until they are revoked, whatever else resumes (a batch that cannot be read)."""

    def pause_all(self) -> None:
        assigned = list(self.consumer.assignment())
        if assigned:
            self.consumer.pause(*assigned)
        self.paused = True
        self.gauge.set(len(assigned))

    def resume_all(self) -> None:
        paused = [tp for tp in self.consumer.paused() if tp not in self.held]
        if paused:
            self.consumer.resume(*paused)
        self.paused = False
        self.gauge.set(len(self.held))

    def hold(self, tp: TopicPartition) -> None:
        """Pause one partition for good (until it is revoked)."""
        self.held.add(tp)
        self.consumer.pause(tp)
        if not self.paused:
            self.gauge.set(len(self.held))

    def release(self, revoked: Iterable[TopicPartition]) -> None:
        """Revoked partitions are no longer held here (their new owner meets the batch itself)."""
        self.held.difference_update(revoked)

    def idle_poll(self, seconds: float) -> None:
        """Wait while staying in the group: poll with every partition paused."""
        self.progressed()
        records = self.poll(int(seconds * 1000))
        for tp, recs in records.items():  # only a partition assigned mid-wait can return data: fetch it again later
            self.consumer.seek(tp, recs[0].offset)
        self.pause_all()
