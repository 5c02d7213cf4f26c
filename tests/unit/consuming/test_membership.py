"""consuming/membership.py: rebalances recorded on kafka-python's I/O thread (committing what is done for revoked
partitions, without blocking) and taken on the consumer thread."""

from __future__ import annotations

import threading

from kafka_fakes import FakeConsumer
from loop_fakes import TP0, TP1

from karafkad.consuming.membership import Membership
from karafkad.consuming.offsets import OffsetBook
from karafkad.observability import Metrics, get_logger


def _membership() -> tuple[Membership, FakeConsumer, OffsetBook, Metrics]:
    consumer, offsets, metrics = FakeConsumer([], threading.Event(), {TP0, TP1}), OffsetBook(), Metrics()
    membership = Membership("g", 0, offsets, metrics, get_logger("test"))
    membership.consumer = consumer  # type: ignore[assignment]
    return membership, consumer, offsets, metrics


class TestMembership:
    def test_an_assignment_is_taken_once_and_brings_the_assignment_up_to_date(self) -> None:
        """The listener records; take_changes hands the changes over once, with the consumer's assignment and
        its gauge; the member counts as joined from the first assignment."""
        membership, _, _, metrics = _membership()
        assert not membership.joined.is_set()
        membership.listener().on_partitions_assigned([TP0, TP1])
        assert membership.joined.is_set() and membership.assignment == frozenset()  # not taken yet
        assert membership.take_changes() == (set(), {TP0, TP1})
        assert membership.assignment == {TP0, TP1}
        assert metrics.assigned.labels("g", "0")._value.get() == 2
        assert membership.take_changes() == (set(), set())

    def test_uncommitted_offsets_are_committed_async_on_revoke(self) -> None:
        """Written-but-uncommitted offsets of a revoked partition are committed without blocking the I/O thread,
        and no longer tracked; the consumer thread learns of the revoke at its next take."""
        membership, consumer, offsets, _ = _membership()
        offsets.record({TP0: 5, TP1: 8})
        membership.listener().on_partitions_revoked([TP0])
        assert consumer.async_commits == [{TP0: 5}]
        assert {tp: meta.offset for tp, meta in offsets.pending().items()} == {TP1: 8}
        assert membership.take_changes() == ({TP0}, set())

    def test_lost_partitions_are_not_committed(self) -> None:
        """Partitions lost (the member was already out of the group) are forgotten, not committed: the group
        would refuse the commit, and the Redis marks keep a redelivery from becoming a second job."""
        membership, consumer, offsets, _ = _membership()
        offsets.record({TP0: 5})
        membership.listener().on_partitions_lost([TP0])
        assert consumer.commits == [] and offsets.pending() == {}
        assert membership.take_changes() == ({TP0}, set())

    def test_a_closed_consumer_leaves_no_partitions_and_is_not_joined(self) -> None:
        """left() after the consumer closed: readiness and the status page see no partitions."""
        membership, _, _, _ = _membership()
        membership.listener().on_partitions_assigned([TP0])
        membership.take_changes()
        membership.left()
        assert not membership.joined.is_set() and membership.assignment == frozenset()
