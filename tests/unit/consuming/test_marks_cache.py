"""consuming/marks_cache.py: the consumer thread's copy of its partitions' marks and replay windows, read from
Redis once per partition, advanced after each write, dropped on revoke."""

from __future__ import annotations

from typing import Any

import pytest
from loop_fakes import TP0, TP1, FakeEnqueuer

from karafkad.consuming.marks_cache import Marks
from karafkad.errors import EnqueueError
from karafkad.store.replays import ReplayWindow


class CountingEnqueuer(FakeEnqueuer):
    """Counts the partitions whose marks it is asked for; its reads fail while `down`."""

    def __init__(self, marks: dict[Any, int] | None = None) -> None:
        super().__init__(marks=marks)
        self.asked: list[Any] = []
        self.down = False

    def read(self, group: str, partitions: Any) -> dict[tuple[str, int], Any]:
        if self.down:
            raise EnqueueError("Redis: ConnectionError: refused")
        self.asked.extend(partitions)
        return super().read(group, partitions)


class TestMarks:
    def test_a_partition_s_mark_is_read_once_the_first_time_it_shows_up(self) -> None:
        """load reads the partitions it has not seen; a partition Redis has no mark for is at -1."""
        enqueuer = CountingEnqueuer(marks={("g", "t", 0): 41})
        marks = Marks("g", enqueuer)  # type: ignore[arg-type]
        marks.load([TP0])
        marks.load([TP0, TP1])
        assert enqueuer.asked == [("t", 0), ("t", 1)]
        assert (marks.get(TP0), marks.get(TP1)) == (41, -1)
        assert (marks.window(TP0), marks.window(TP1)) == (None, None)

    def test_a_replay_window_is_read_with_its_own_mark(self) -> None:
        """A partition with a replay window has two marks: its own and the replay's stream's."""
        enqueuer = CountingEnqueuer(marks={("g", "t", 0): 9, ("g", "t", 0, "r3"): 2})
        enqueuer.windows[("t", 0)] = ReplayWindow(3, 0, 5)
        marks = Marks("g", enqueuer)  # type: ignore[arg-type]
        marks.load([TP0])
        assert marks.window(TP0) == ReplayWindow(3, 0, 5)
        assert (marks.get(TP0), marks.get(TP0, "r3")) == (9, 2)

    def test_a_mark_only_moves_forward_per_stream(self) -> None:
        """advance keeps the highest offset handled; a replay's stream moves on its own."""
        marks = Marks("g", CountingEnqueuer())  # type: ignore[arg-type]
        marks.advance(TP0, 7)
        marks.advance(TP0, 3)
        marks.advance(TP0, 1, "r3")
        assert (marks.get(TP0), marks.get(TP0, "r3")) == (7, 1)

    def test_a_revoked_partition_is_forgotten_and_read_again_if_it_comes_back(self) -> None:
        """Its next owner may move its marks; when it comes back, they are read afresh (window mark too)."""
        enqueuer = CountingEnqueuer(marks={("g", "t", 0): 9, ("g", "t", 0, "r3"): 2})
        enqueuer.windows[("t", 0)] = ReplayWindow(3, 0, 5)
        marks = Marks("g", enqueuer)  # type: ignore[arg-type]
        marks.load([TP0])
        marks.advance(TP0, 20)
        marks.forget([TP0])
        assert (marks.get(TP0), marks.get(TP0, "r3"), marks.window(TP0)) == (-1, -1, None)
        marks.load([TP0])
        assert marks.get(TP0) == 9 and enqueuer.asked == [("t", 0), ("t", 0)]

    def test_redis_that_cannot_be_read_is_an_error_and_nothing_is_kept(self) -> None:
        """No record may be decided without knowing whether it is replayed: load raises, and the partition is
        read again at the next load."""
        enqueuer = CountingEnqueuer(marks={("g", "t", 0): 9})
        enqueuer.down = True
        marks = Marks("g", enqueuer)  # type: ignore[arg-type]
        with pytest.raises(EnqueueError):
            marks.load([TP0])
        enqueuer.down = False
        marks.load([TP0])
        assert marks.get(TP0) == 9
