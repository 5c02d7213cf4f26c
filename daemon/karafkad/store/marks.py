"""Read what karafkad keeps about a group's partitions: each one's dedupe mark and replay window.

The consumer reads this the first time a partition shows up in a poll
(consuming/marks_cache.py), and `karafkad replay` when it plans; both need,
per partition, the group's own mark and the replay window, if any, and the
consumer also the window's own mark (how far the replay got).

One round trip in the common case: a pipeline reads every partition's mark
and window together. A window's own mark is named after the window's
generation (`karafkad:mark:...:rN`, keys.py), so it can only be asked for
once the window is read: only partitions inside a replay cost a second round
trip, which reads the marks of every window found at once. Keeping the
replay's mark where it could be read blind (in the window's hash, or under a
name without the generation) would save that trip, but it changes what the
script writes and where: a replay under way when karafkad is upgraded would
lose its mark and enqueue its jobs again. A second trip only while a replay
runs is the cheaper price.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis import Redis

from karafkad.config.settings import RedisSettings
from karafkad.store.failures import redis_failures
from karafkad.store.keys import mark_key, replay_key
from karafkad.store.replays import ReplayWindow

Partition = tuple[str, int]
"""(topic, partition)."""


@dataclass(frozen=True)
class PartitionMarks:
    """One partition's dedupe state in a group: how far it got, and a replay under way with how far that got."""

    mark: int = -1
    """The highest offset handled by the group's own consumption; -1 when none is kept."""
    window: ReplayWindow | None = None
    """The replay window (store/replays.py), or None when there is none."""
    window_mark: int = -1
    """The highest offset the replay handled (its own mark, `window.stream`); -1 when none, or no window."""


def _offset(value: bytes | None) -> int:
    return int(value) if value is not None else -1


class MarkReader:
    """Reads the marks and replay windows of a group's partitions from one Redis."""

    def __init__(self, client: Redis[bytes], settings: RedisSettings | None = None) -> None:
        """`settings` are the client's, for the words of an error."""
        self.client = client
        self.settings = settings

    def read(self, group: str, partitions: Sequence[Partition]) -> dict[Partition, PartitionMarks]:
        """Each partition's marks and window; EnqueueError when Redis fails."""
        if not partitions:
            return {}
        with redis_failures(self.settings):
            with self.client.pipeline(transaction=False) as pipe:
                for topic, partition in partitions:
                    pipe.get(mark_key(group, topic, partition))
                    pipe.hgetall(replay_key(group, topic, partition))
                found = pipe.execute()
            windows = {p: ReplayWindow.decode(fields) if fields else None
                       for p, fields in zip(partitions, found[1::2], strict=True)}
            replayed = [(p, w) for p, w in windows.items() if w is not None]
            window_marks: dict[Partition, int] = {}
            if replayed:
                values = self.client.mget([mark_key(group, t, n, w.stream) for (t, n), w in replayed])
                window_marks = {p: _offset(v) for (p, _), v in zip(replayed, values, strict=True)}
        return {p: PartitionMarks(_offset(mark), windows[p], window_marks.get(p, -1))
                for p, mark in zip(partitions, found[0::2], strict=True)}
