"""Where each of a consumer's partitions stands: its commit offset, and how far behind it is.

A partition's commit offset is the consumer's position after the poll that
returned a batch, once that batch is written: past its last offset, and past
any transaction marker or aborted record the same poll went over
(read_committed never returns those, yet they take offsets). A partition
with nothing in flight whose position moved without records (a commit
marker arriving on its own) has that position as its commit offset, so a
consumed partition reaches lag 0. Lag counts what can be consumed: up to
the partition's end, its last stable offset under read_committed (an open
transaction holds the rest back), its highwater otherwise. The words are
docs/architecture.md's "Offsets, in words".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from karafkad.clients.kafka.types import ConsumerClient, TopicPartition
from karafkad.clients.kafka.workarounds.fetch_state import StableOffsets, position
from karafkad.consuming.delivery import Delivered
from karafkad.consuming.offsets import OffsetBook
from karafkad.observability import Metrics

LAG_INTERVAL = 1.0
"""Seconds between two updates of the lag gauge of every assigned partition."""


class Positions:
    """One consumer's partitions: commit offsets recorded in the OffsetBook, and the lag gauge."""

    def __init__(self, group: str, consumer: ConsumerClient, offsets: OffsetBook, metrics: Metrics, *,
                 read_committed: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.group = group
        self.consumer = consumer
        self.offsets = offsets
        self.metrics = metrics
        self.read_committed = read_committed
        self.clock = clock
        self.stable = StableOffsets(consumer)
        self._recorded: dict[TopicPartition, int] = {}
        """Each partition's commit offset last recorded."""
        self._lag_labels: set[TopicPartition] = set()
        self._lag_at = -LAG_INTERVAL

    def written(self, delivered: Delivered) -> None:
        """These batches are in Redis: record their commit offsets."""
        done = {tp: batch.commit_offset for tp, batch in delivered}
        self._recorded.update(done)
        self.offsets.record(done)

    def moved(self, assigned: Iterable[TopicPartition], busy: set[TopicPartition]) -> None:
        """Partitions with nothing in flight (not `busy`) whose position moved without records: record that
        position as their commit offset."""
        moved = {}
        for tp in assigned:
            if tp in busy:
                continue
            current = position(self.consumer, tp)
            if current is not None and current != self._recorded.get(tp):
                moved[tp] = current
        if moved:
            self._recorded.update(moved)
            self.offsets.record(moved)

    def update_lag(self, assigned: Iterable[TopicPartition]) -> None:
        """Set the lag gauge of every assigned partition, at most once per LAG_INTERVAL."""
        now = self.clock()
        if now - self._lag_at < LAG_INTERVAL:
            return
        self._lag_at = now
        for tp in assigned:
            end = self.end(tp)
            done = self._recorded.get(tp, position(self.consumer, tp))
            if end is None or done is None:
                continue
            self._lag_labels.add(tp)
            self.metrics.lag.labels(self.group, tp.topic, str(tp.partition)).set(max(end - done, 0))

    def end(self, tp: TopicPartition) -> int | None:
        """The partition's end, up to which it can be consumed: its last stable offset under read_committed, else
        its highwater (None: not known yet)."""
        if self.read_committed:
            stable = self.stable.get(tp)
            if stable is not None:
                return stable
        return highwater(self.consumer, tp)

    def forget(self, revoked: Iterable[TopicPartition]) -> None:
        """Revoked partitions: their new owner commits and reports them."""
        for tp in revoked:
            self._recorded.pop(tp, None)
            if tp in self._lag_labels:
                self._lag_labels.discard(tp)
                self.metrics.lag.remove(self.group, tp.topic, str(tp.partition))


def highwater(consumer: ConsumerClient, tp: TopicPartition) -> int | None:
    """The partition's highwater (its log end: one past its last record) as last fetched, or None when unknown."""
    try:
        value = consumer.highwater(tp)
    except Exception:  # kafka-python asserts the partition is assigned; revoked meanwhile is "unknown"
        return None
    return int(value) if value is not None else None
