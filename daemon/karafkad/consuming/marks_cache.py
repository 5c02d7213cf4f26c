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
from karafkad.store.marks import MarkReader
from karafkad.store.replays import ReplayWindow


class Marks:
    """(topic, partition, stream) -> highest offset handled, and each partition's replay window, for one group."""

    def __init__(self, group: str, reader: MarkReader) -> None:
        self.group = group
        self.reader = reader
        self._marks: dict[tuple[TopicPartition, str], int] = {}
        self._windows: dict[TopicPartition, ReplayWindow | None] = {}

    def get(self, tp: TopicPartition, stream: str = "") -> int:
        """The partition's mark in `stream` ("": the group's own; -1: none)."""
        return self._marks.get((tp, stream), -1)

    def window(self, tp: TopicPartition) -> ReplayWindow | None:
        return self._windows.get(tp)

    def load(self, partitions: Iterable[TopicPartition]) -> None:
        """Read the state of partitions not seen yet (one Redis round trip unless one is being replayed);
        EnqueueError when Redis cannot be read."""
        unknown = [tp for tp in partitions if tp not in self._windows]
        if not unknown:
            return
        read = self.reader.read(self.group, [(tp.topic, tp.partition) for tp in unknown])
        for tp in unknown:
            state = read[(tp.topic, tp.partition)]
            self._marks[(tp, "")] = state.mark
            if state.window is not None:
                self._marks[(tp, state.window.stream)] = state.window_mark
            self._windows[tp] = state.window

    def advance(self, tp: TopicPartition, offset: int, stream: str = "") -> None:
        """A write landed: the mark is at least `offset` now (the batch's last offset)."""
        self._marks[(tp, stream)] = max(self._marks.get((tp, stream), -1), offset)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            window = self._windows.pop(tp, None)
            self._marks.pop((tp, ""), None)
            if window is not None:
                self._marks.pop((tp, window.stream), None)
