"""Where each of a consumer's partitions stands: what may be committed, and how far behind it is.

What is committed is the consumer's position after the poll that returned a
batch, once that batch is written: past its last record, and past any
transaction marker or aborted record the same poll went over (read_committed
never returns those, yet they take offsets). A partition with nothing in
flight whose position moved without records (a commit marker arriving on its
own) is committed where it stands, so a consumed partition reaches lag 0.
Lag counts what can be consumed: up to the last stable offset under
read_committed (an open transaction holds the rest back), up to the log end
otherwise.
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
    """One consumer's partitions: offsets handed to the OffsetBook, and the lag gauge."""

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
        self._lag_labels: set[TopicPartition] = set()
        self._lag_at = -LAG_INTERVAL

    def written(self, delivered: Delivered) -> None:
        """These batches are in Redis: their offsets may be committed."""
        done = {tp: batch.commit_offset for tp, batch in delivered}
        self._recorded.update(done)
        self.offsets.record(done)

    def moved(self, assigned: Iterable[TopicPartition], busy: set[TopicPartition]) -> None:
        """Record the position of partitions with nothing in flight whose position moved without records."""
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
        """What can be consumed of the partition: its last stable offset or its log end (None: not known yet)."""
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
    """The partition's log end as last fetched, or None when unknown."""
    try:
        value = consumer.highwater(tp)
    except Exception:  # kafka-python asserts the partition is assigned; revoked meanwhile is "unknown"
        return None
    return int(value) if value is not None else None
