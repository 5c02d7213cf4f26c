"""consuming/positions.py: the commit offsets handed to the OffsetBook (a written batch's, or an idle partition's
position) and the lag gauge."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from clocks import Clock
from kafka import TopicPartition
from kafka_fakes import FakeConsumer
from loop_fakes import TP0, TP1

from karafkad.consuming.offsets import OffsetBook
from karafkad.consuming.positions import LAG_INTERVAL, Positions, highwater
from karafkad.observability import Metrics
from karafkad.pipeline.outcomes import PartitionBatch


def _positions(read_committed: bool = False) -> tuple[Positions, FakeConsumer, OffsetBook, Clock]:
    consumer, offsets, clock = FakeConsumer([], threading.Event(), {TP0, TP1}), OffsetBook(), Clock(100.0)
    positions = Positions("g", consumer, offsets, Metrics(), read_committed=read_committed,  # type: ignore[arg-type]
                          clock=clock)
    return positions, consumer, offsets, clock


def _pending(offsets: OffsetBook) -> dict[TopicPartition, int]:
    return {tp: meta.offset for tp, meta in offsets.pending().items()}


def _batch(last_offset: int, next_offset: int = -1) -> PartitionBatch:
    return PartitionBatch("t", 0, last_offset=last_offset, next_offset=next_offset)


def _lag(positions: Positions, tp: TopicPartition) -> float | None:
    return positions.metrics.registry.get_sample_value("karafkad_consumer_lag", {
        "group": "g", "topic": tp.topic, "partition": str(tp.partition)})


class TestPositions:
    def test_a_written_batch_records_its_commit_offset(self) -> None:
        """The position after its poll (past a transaction marker here), or its last offset + 1 when unknown."""
        positions, _, offsets, _ = _positions()
        positions.written([(TP0, _batch(2, next_offset=4)), (TP1, _batch(6))])
        assert _pending(offsets) == {TP0: 4, TP1: 7}

    def test_an_idle_partition_whose_position_moved_is_recorded_where_it_stands(self) -> None:
        """A commit marker on its own moves the position and returns no record: recorded once, not again while
        it stays there."""
        positions, consumer, offsets, _ = _positions()
        consumer._subscription.move(TP1, 7)
        positions.moved({TP0, TP1}, busy=set())
        assert _pending(offsets) == {TP1: 7}
        offsets.forget({TP1})
        positions.moved({TP0, TP1}, busy=set())
        assert _pending(offsets) == {}

    def test_a_busy_partition_is_not_recorded_at_its_position(self) -> None:
        """A batch in flight (or given up) is behind the position: committing there would run ahead of it."""
        positions, consumer, offsets, _ = _positions()
        consumer._subscription.move(TP0, 9)
        positions.moved({TP0}, busy={TP0})
        assert _pending(offsets) == {}

    def test_lag_is_what_can_be_consumed_and_is_not_committed_at_most_once_per_interval(self) -> None:
        """Lag is the end (highwater here) less the commit offset recorded, or the position before any; the
        gauge is set at most once per LAG_INTERVAL."""
        positions, consumer, _, clock = _positions()
        consumer.log_ends[TP0] = 50
        consumer._subscription.move(TP0, 10)
        positions.update_lag({TP0})
        assert _lag(positions, TP0) == 40
        positions.written([(TP0, _batch(29))])
        positions.update_lag({TP0})
        assert _lag(positions, TP0) == 40  # too soon
        clock.now += LAG_INTERVAL
        positions.update_lag({TP0})
        assert _lag(positions, TP0) == 20

    def test_under_read_committed_the_end_is_the_last_stable_offset(self) -> None:
        """An open transaction holds back what follows its first offset: lag counts up to there; until a fetch
        brought the last stable offset, the highwater."""
        positions, consumer, _, _ = _positions(read_committed=True)
        consumer.log_ends[TP0] = 50
        assert positions.end(TP0) == 50
        positions.stable = SimpleNamespace(get=lambda tp: 30)  # type: ignore[assignment]
        assert positions.end(TP0) == 30
        assert _positions(read_committed=False)[0].end(TP0) == 100

    def test_a_revoked_partition_is_forgotten_with_its_lag(self) -> None:
        """Its new owner commits and reports it: the lag gauge's label goes away."""
        positions, consumer, _, _ = _positions()
        consumer._subscription.move(TP0, 10)
        positions.update_lag({TP0})
        assert _lag(positions, TP0) == 90
        positions.forget({TP0})
        assert _lag(positions, TP0) is None


class TestHighwater:
    def test_a_partition_the_client_no_longer_has_is_unknown(self) -> None:
        """kafka-python asserts the partition is assigned; a revoke meanwhile reads as None, as no value yet."""
        def refuse(tp: Any) -> int:
            raise AssertionError("not assigned")

        assert highwater(SimpleNamespace(highwater=refuse), TP0) is None  # type: ignore[arg-type]
        assert highwater(SimpleNamespace(highwater=lambda tp: None), TP0) is None  # type: ignore[arg-type]
        assert highwater(SimpleNamespace(highwater=lambda tp: 12), TP0) == 12  # type: ignore[arg-type]
