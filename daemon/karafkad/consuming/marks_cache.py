"""A consumer thread's copy of its partitions' Redis state: marks (the highest offset handled), replay windows.

The pipeline only counts records at or below a partition's mark (they were
enqueued before a crash or a rebalance); a record inside a replay window
(replays.py) is run again for the window's routes, under the window's own
mark. The copy is read from Redis the first time a partition shows up in a
poll, advanced after each write, and dropped when the partition is revoked
(its next owner may move it). The authoritative check is the enqueuer's Lua
script; this copy saves it work, keeps a re-delivered dead letter from being
sent twice, and says which records are replayed. When Redis cannot be read,
`load` raises: a record must not be decided without knowing whether it is
replayed.
"""

from __future__ import annotations

from collections.abc import Iterable

from karafkad.clients.kafka.types import TopicPartition
from karafkad.store.enqueuer import Enqueuer, MarkId
from karafkad.store.replays import ReplayWindow


class Marks:
    """(topic, partition, stream) -> highest offset handled, and each partition's replay window, for one group."""

    def __init__(self, group: str, enqueuer: Enqueuer) -> None:
        self.group = group
        self.enqueuer = enqueuer
        self._marks: dict[tuple[TopicPartition, str], int] = {}
        self._windows: dict[TopicPartition, ReplayWindow | None] = {}

    def get(self, tp: TopicPartition, stream: str = "") -> int:
        """The partition's mark in `stream` ("": the group's own; -1: none)."""
        return self._marks.get((tp, stream), -1)

    def window(self, tp: TopicPartition) -> ReplayWindow | None:
        return self._windows.get(tp)

    def load(self, partitions: Iterable[TopicPartition]) -> None:
        """Read the state of partitions not seen yet; EnqueueError when Redis cannot be read."""
        unknown = [tp for tp in partitions if tp not in self._windows]
        if not unknown:
            return
        windows = self.enqueuer.replay_windows(self.group, [(tp.topic, tp.partition) for tp in unknown])
        ids: list[tuple[TopicPartition, str]] = []
        for tp in unknown:
            ids.append((tp, ""))
            window = windows.get((tp.topic, tp.partition))
            if window is not None:
                ids.append((tp, window.stream))
        keys: list[MarkId] = [(self.group, tp.topic, tp.partition, stream) for tp, stream in ids]
        marks = self.enqueuer.marks(keys)
        for (tp, stream), key in zip(ids, keys, strict=True):
            self._marks[(tp, stream)] = marks[key]
        for tp in unknown:
            self._windows[tp] = windows.get((tp.topic, tp.partition))

    def advance(self, tp: TopicPartition, offset: int, stream: str = "") -> None:
        """A write landed: the mark is at least `offset` now (the batch's last offset)."""
        self._marks[(tp, stream)] = max(self._marks.get((tp, stream), -1), offset)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            window = self._windows.pop(tp, None)
            self._marks.pop((tp, ""), None)
            if window is not None:
                self._marks.pop((tp, window.stream), None)
