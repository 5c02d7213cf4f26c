"""Pausing a consumer's partitions while it waits (for Redis, the dead-letter topic or RQ's queues).

A paused member keeps polling, so the group keeps it and its partitions: a
poll with every partition paused returns no records but sends heartbeats
and runs rebalances. Partitions assigned during the wait arrive unpaused
and are paused as they come.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Gauge

from karafkad.clients.kafka_types import ConsumerClient


class Pauser:
    """Pauses and resumes every assigned partition of one consumer, and waits in the group meanwhile."""

    def __init__(self, consumer: ConsumerClient, gauge: Gauge, after_poll: Callable[[], None],
                 progressed: Callable[[], None]) -> None:
        self.consumer = consumer
        self.gauge = gauge
        """karafkad_paused_partitions of this consumer thread."""
        self.after_poll = after_poll
        """The consumer thread's handling of rebalances that a poll brought."""
        self.progressed = progressed
        """Tells the stall watchdog that the thread is alive (see defaults.STALL_SECONDS)."""
        self.paused = False

    def pause_all(self) -> None:
        assigned = list(self.consumer.assignment())
        if assigned:
            self.consumer.pause(*assigned)
        self.paused = True
        self.gauge.set(len(assigned))

    def resume_all(self) -> None:
        paused = list(self.consumer.paused())
        if paused:
            self.consumer.resume(*paused)
        self.paused = False
        self.gauge.set(0)

    def idle_poll(self, seconds: float) -> None:
        """Wait while staying in the group: poll with every partition paused."""
        self.progressed()
        records = self.consumer.poll(timeout_ms=int(seconds * 1000))
        self.after_poll()
        for tp, recs in records.items():  # only a partition assigned mid-wait can return data: fetch it again later
            self.consumer.seek(tp, recs[0].offset)
        self.pause_all()
