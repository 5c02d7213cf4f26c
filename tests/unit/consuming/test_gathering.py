"""consuming/gathering.py: a partition's records gathered across polls into batches of a sized batch route's size.

The loop's rules around it (commits, revokes, drains, waits) are proven in
test_poll_loop.py::TestPollLoopGathering, through the loop itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clocks import Clock
from kafka import TopicPartition
from tables import make_table, records

from karafkad.config.settings import GroupSpec
from karafkad.consuming.gathering import Gatherer

TP0 = TopicPartition("t", 0)
TP1 = TopicPartition("t", 1)
OTHER = TopicPartition("other", 0)


def group(tmp_path: Path, batch: Any = None) -> GroupSpec:
    """Group g: a route of topic t with `batch: {max_messages: 3, max_wait: 2}` (or `batch`), one of topic other."""
    routes = [{"topic": "t", "handler": "h.handle", "batch": batch or {"max_messages": 3, "max_wait": 2}},
              {"topic": "other", "handler": "h.handle"}]
    return make_table(tmp_path, {"g": {"routes": routes}}).groups["g"].spec


def offsets(ready: dict[TopicPartition, Any]) -> dict[TopicPartition, list[int]]:
    return {tp: [r.offset for r in recs] for tp, recs in ready.items()}


class TestGatherer:
    def test_other_topics_pass_through_and_a_gathered_partition_waits_for_a_full_batch(self, tmp_path: Path) -> None:
        """Records of a topic without a sized batch route are decided as polled; a gathered partition's are kept
        until max_messages are, across polls, and then only whole batches go (the rest waits on)."""
        gatherer, spec = Gatherer(Clock(100.0)), group(tmp_path)
        ready = gatherer.gather({TP0: records([{}] * 2), OTHER: records([{}], topic="other")}, spec)
        assert offsets(ready) == {OTHER: [0]}
        assert gatherer.partitions() == {TP0} and gatherer.holds(TP0)
        ready = gatherer.gather({TP0: records([{}] * 5, start=2)}, spec)
        assert offsets(ready) == {TP0: [0, 1, 2, 3, 4, 5]}  # two batches of three: one call, jobs of three
        ready = gatherer.gather({TP0: records([{}] * 1, start=7)}, spec)
        assert offsets(ready) == {} and gatherer.holds(TP0)  # 6 waits with 7

    def test_a_partition_s_batch_goes_whole_once_its_first_record_waited_max_wait(self, tmp_path: Path) -> None:
        """max_wait counts from the poll that brought the partition's first gathered record, and a poll that
        brings nothing still lets a batch go; what is left after a full batch waits from its own poll."""
        clock = Clock(100.0)
        gatherer, spec = Gatherer(clock), group(tmp_path)
        gatherer.gather({TP0: records([{}] * 4)}, spec)  # 0..2 go at once; 3 waits from now (100)
        clock.now = 101.0
        assert offsets(gatherer.gather({TP0: records([{}], start=4), TP1: records([{}], partition=1)}, spec)) == {}
        clock.now = 102.0
        assert offsets(gatherer.gather({}, spec)) == {TP0: [3, 4]}  # 3 waited 2 s; TP1's first came at 101
        clock.now = 103.0
        assert offsets(gatherer.gather({}, spec)) == {TP1: [0]}
        assert gatherer.partitions() == set()

    def test_a_poll_waits_no_longer_than_the_nearest_batch_s_deadline(self, tmp_path: Path) -> None:
        """Nothing gathered: the longest wait; else the time left to the nearest deadline, rounded up to a
        millisecond (not to wake early and spin), never below 0."""
        clock = Clock(100.0)
        gatherer, spec = Gatherer(clock), group(tmp_path)
        assert gatherer.wait_ms(500) == 500
        gatherer.gather({TP0: records([{}])}, spec)
        clock.now = 101.0
        gatherer.gather({TP1: records([{}], partition=1)}, spec)
        clock.now = 101.8996
        assert gatherer.wait_ms(500) == 101  # TP0's deadline, 102.0
        assert gatherer.wait_ms(50) == 50
        clock.now = 102.5
        assert gatherer.wait_ms(500) == 0

    def test_take_all_drop_and_a_reload_that_ends_gathering(self, tmp_path: Path) -> None:
        """A drain takes every record gathered; a revoked partition's are forgotten; when a reload leaves the topic
        without a sized batch route, what it had gathered goes at the next call, with what that call brought."""
        gatherer, spec = Gatherer(Clock(100.0)), group(tmp_path)
        gatherer.gather({TP0: records([{}] * 2), TP1: records([{}], partition=1)}, spec)
        gatherer.drop([TP1])
        assert gatherer.partitions() == {TP0}
        gatherer.gather({TP1: records([{}], partition=1, start=1)}, spec)
        assert offsets(gatherer.take_all()) == {TP0: [0, 1], TP1: [1]}
        assert gatherer.partitions() == set()
        gatherer.gather({TP0: records([{}], start=2)}, spec)
        (tmp_path / "reloaded").mkdir()
        reloaded = group(tmp_path / "reloaded", batch=True)
        assert offsets(gatherer.gather({TP0: records([{}], start=3)}, reloaded)) == {TP0: [2, 3]}
        assert gatherer.partitions() == set()
