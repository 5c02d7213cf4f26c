"""store/marks.py: a group's partitions' marks and replay windows, read in one round trip unless replayed."""

from __future__ import annotations

import pytest
import redis
from redis_fakes import FakeRedis

from karafkad.errors import EnqueueError
from karafkad.store.keys import mark_key, replay_key
from karafkad.store.marks import MarkReader, PartitionMarks
from karafkad.store.replays import ReplayWindow


def _reader(client: FakeRedis) -> MarkReader:
    return MarkReader(client)  # type: ignore[arg-type]


def _replaying(client: FakeRedis, window: ReplayWindow, partition: int = 0) -> None:
    client.hashes[replay_key("g", "t", partition)] = {k.encode(): v.encode() for k, v in window.encode().items()}


class TestMarkReader:
    def test_partitions_without_a_replay_cost_one_round_trip(self) -> None:
        """The common case: every partition's mark (and its absence of a window) in one pipeline; no mark: -1."""
        client = FakeRedis()
        client.strings[mark_key("g", "t", 0)] = b"41"
        read = _reader(client).read("g", [("t", 0), ("t", 1), ("u", 0)])
        assert read == {("t", 0): PartitionMarks(41), ("t", 1): PartitionMarks(-1), ("u", 0): PartitionMarks(-1)}
        assert client.round_trips == 1

    def test_a_replayed_partition_gets_its_window_and_the_windows_mark(self) -> None:
        """A window's own mark (`...:rN`) is read in a second round trip, for every window found at once."""
        client = FakeRedis()
        window = ReplayWindow(3, 0, 10, ("a",))
        _replaying(client, window, partition=1)
        _replaying(client, ReplayWindow(4, 2, 8), partition=2)
        client.strings[mark_key("g", "t", 1)] = b"9"
        client.strings[mark_key("g", "t", 1, "r3")] = b"4"
        read = _reader(client).read("g", [("t", 0), ("t", 1), ("t", 2)])
        assert read[("t", 0)] == PartitionMarks(-1)
        assert read[("t", 1)] == PartitionMarks(9, window, 4)
        assert read[("t", 2)] == PartitionMarks(-1, ReplayWindow(4, 2, 8), -1)
        assert client.round_trips == 2

    def test_a_window_karafkad_did_not_write_is_no_window(self) -> None:
        """A hash at the window's key that does not decode is taken for none, and no second trip is made."""
        client = FakeRedis()
        client.hashes[replay_key("g", "t", 0)] = {b"start": b"zero"}
        assert _reader(client).read("g", [("t", 0)]) == {("t", 0): PartitionMarks(-1)}
        assert client.round_trips == 1

    def test_no_partition_asks_nothing(self) -> None:
        """An empty list of partitions makes no round trip."""
        client = FakeRedis()
        assert _reader(client).read("g", []) == {}
        assert client.round_trips == 0

    def test_a_redis_failure_is_an_enqueue_error_in_words(self) -> None:
        """The consumer catches one exception, which says what failed."""
        client = FakeRedis()
        client.fail = redis.ConnectionError("Connection refused")
        with pytest.raises(EnqueueError, match="Redis: ConnectionError: Connection refused"):
            _reader(client).read("g", [("t", 0)])
