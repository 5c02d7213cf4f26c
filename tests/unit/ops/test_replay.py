"""ops/replay.py: why a replay has nothing to replay, said plainly (a cluster and Redis that answer from memory)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from tables import make_table

from karafkad.clients.kafka.types import TopicPartition
from karafkad.errors import OperationRefused
from karafkad.ops import replay
from karafkad.ops.replay import Target, plan_replay
from karafkad.routes.table import RouteTable
from karafkad.store.marks import PartitionMarks

NOW = 1_800_000_000.0
"""The test's clock, in seconds."""
NEWEST = int(NOW * 1000) - 3_600_000
"""When the newest message of each partition was written: an hour before NOW."""


class FakeCluster:
    """A topic `payments` of `count` partitions, each holding offsets 0..12, one an hour, the last written at
    NEWEST (a day earlier in those `stale`), unless `empty`; the group, which has no member, has committed 13
    on each but those `unconsumed`."""

    def __init__(self, count: int, empty: Sequence[int] = (), unconsumed: Sequence[int] = (),
                 stale: Sequence[int] = ()) -> None:
        self.tps = [TopicPartition("payments", p) for p in range(count)]
        self.empty = set(empty)
        self.unconsumed = set(unconsumed) | self.empty
        self.stale = set(stale)

    def members(self, group: str) -> list[Any]:
        return []

    def partitions(self, topics: Iterable[str]) -> dict[str, int]:
        return {"payments": len(self.tps)}

    def committed(self, group: str) -> dict[TopicPartition, int]:
        return {tp: 13 for tp in self.tps if tp.partition not in self.unconsumed}

    def earliest(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, 0)

    def latest(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: 0 if tp.partition in self.empty else 13 for tp in tps}

    def at_time(self, tps: Iterable[TopicPartition], milliseconds: int) -> dict[TopicPartition, int | None]:
        """The first offset written at or after the time; None past the newest."""
        found: dict[TopicPartition, int | None] = {}
        for tp in tps:
            newest = NEWEST - (86_400_000 if tp.partition in self.stale else 0)
            hours_before = (newest - milliseconds) // 3_600_000
            found[tp] = None if tp.partition in self.empty or milliseconds > newest else max(0, 12 - hours_before)
        return found


class FakeMarkReader:
    """No mark beyond the commits, no replay under way."""

    def __init__(self, client: Any, settings: Any = None) -> None:
        pass

    def read(self, group: str, partitions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], PartitionMarks]:
        return {p: PartitionMarks() for p in partitions}


@pytest.fixture
def table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RouteTable:
    monkeypatch.setattr(replay, "MarkReader", FakeMarkReader)
    return make_table(tmp_path, {"billing": {"routes": [{"topic": "payments", "handler": "h.handle"}]}})


def refusal(table: RouteTable, cluster: FakeCluster, at: int) -> str:
    with pytest.raises(OperationRefused) as info:
        plan_replay(table, cluster, None, "billing", [], [], Target("time", at), [],  # type: ignore[arg-type]
                    clock=lambda: NOW)
    return str(info.value)


class TestNothingToReplay:
    def test_a_time_in_the_future_is_said_to_be_once(self, table: RouteTable) -> None:
        """Not "the group has handled only up to 13: nothing to replay from 13" for each partition."""
        message = refusal(table, FakeCluster(3), int(NOW * 1000) + 86_400_000)
        assert message == ("nothing to replay: that time is in the future; no message is at or after it "
                           "(payments[0], payments[1], payments[2])")

    def test_a_past_time_after_every_newest_message_is_said_to_be_once(self, table: RouteTable) -> None:
        """Between the newest message and now: after the newest message of every partition, not the future."""
        message = refusal(table, FakeCluster(2), NEWEST + 60_000)
        assert message == ("nothing to replay: that time is after the newest message of every partition "
                           "(payments[0], payments[1])")

    def test_partition_by_partition_when_their_reasons_differ(self, table: RouteTable) -> None:
        """One partition is empty, the group never consumed the other: each says its own."""
        message = refusal(table, FakeCluster(2, empty=[0], unconsumed=[1]), NEWEST - 60_000)
        assert message == ("nothing to replay: payments[0]: no message at or after that time: the partition is "
                           "empty; payments[1]: never consumed: nothing to replay")

    def test_the_plan_says_it_of_each_partition_too(self, table: RouteTable) -> None:
        """Where another partition has something to replay, those past their newest message note why not (the
        dry run's table shows it), with the offset of the newest."""
        plan = plan_replay(table, FakeCluster(3, empty=[1], stale=[2]), None, "billing", [], [],  # type: ignore[arg-type]
                           Target("time", NEWEST - 60_000), [], clock=lambda: NOW)
        first, empty, stale = plan.partitions
        assert first.window is not None and not first.after_newest
        assert empty.after_newest and empty.note == "no message at or after that time: the partition is empty"
        assert stale.after_newest and stale.note == "no message at or after that time: the newest is at offset 12"

    def test_a_time_within_the_messages_is_still_replayed(self, table: RouteTable) -> None:
        """Two hours before the newest message: offsets 10 to 12 are replayed (the control)."""
        plan = plan_replay(table, FakeCluster(1), None, "billing", [], [],  # type: ignore[arg-type]
                           Target("time", NEWEST - 7_200_000), [], clock=lambda: NOW)
        (entry,) = plan.replayed
        assert (entry.target, entry.offsets, entry.after_newest) == (10, 3, False)
