"""A consumer thread's copy of its partitions' Redis marks: the highest offset already handled.

The pipeline only counts records at or below a partition's mark (they were
enqueued before a crash or a rebalance). The copy is read from Redis the
first time a partition shows up in a poll, advanced after each write, and
dropped when the partition is revoked (its next owner may move it). The
authoritative check is the enqueuer's Lua script; this copy only saves it
work and keeps a re-delivered dead letter from being sent twice.
"""

from __future__ import annotations

from collections.abc import Iterable

from karafkad.clients.kafka_types import TopicPartition
from karafkad.errors import EnqueueError
from karafkad.runtime.enqueuer import Enqueuer


class Marks:
    """(topic, partition) -> highest offset handled, for one group."""

    def __init__(self, group: str, enqueuer: Enqueuer) -> None:
        self.group = group
        self.enqueuer = enqueuer
        self._marks: dict[TopicPartition, int] = {}

    def get(self, tp: TopicPartition) -> int:
        return self._marks.get(tp, -1)

    def load(self, partitions: Iterable[TopicPartition]) -> None:
        """Read the marks of partitions not seen yet (Redis down: left unknown, the write still dedupes)."""
        unknown = [tp for tp in partitions if tp not in self._marks]
        if not unknown:
            return
        try:
            marks = self.enqueuer.marks([(self.group, tp.topic, tp.partition) for tp in unknown])
        except EnqueueError:
            return
        for tp in unknown:
            self._marks[tp] = marks[(self.group, tp.topic, tp.partition)]

    def advance(self, tp: TopicPartition, offset: int) -> None:
        self._marks[tp] = max(self._marks.get(tp, -1), offset)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self._marks.pop(tp, None)
