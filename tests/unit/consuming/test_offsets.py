"""offsets.py: what is committed, when, and what a failed or refused commit leaves behind."""

from __future__ import annotations

from typing import Any

from clocks import Clock
from kafka import TopicPartition
from kafka.errors import CommitFailedError, KafkaTimeoutError

from karafkad.consuming.offsets import COMMIT_INTERVAL, OffsetBook

TP = TopicPartition("t", 0)
TP1 = TopicPartition("t", 1)


class HeldConsumer:
    """Keeps asynchronous commits unanswered until the test answers them."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict[TopicPartition, int], Any]] = []
        self.sync: list[dict[TopicPartition, int]] = []

    def commit_async(self, offsets: dict[TopicPartition, Any], callback: Any = None) -> None:
        self.sent.append(({tp: m.offset for tp, m in offsets.items()}, (offsets, callback)))

    def answer(self, index: int, response: Any) -> None:
        offsets, callback = self.sent[index][1]
        if callback is not None:
            callback(offsets, response)

    def commit(self, offsets: dict[TopicPartition, Any], timeout_ms: int | None = None) -> None:
        self.sync.append({tp: m.offset for tp, m in offsets.items()})


class TestOffsetBook:
    def test_one_commit_at_a_time_carrying_the_newest_offsets(self) -> None:
        """While a commit is unanswered none is sent; the next one carries everything recorded meanwhile."""
        book, consumer = OffsetBook(interval=0), HeldConsumer()
        book.record({TP: 10})
        book.commit_async(consumer)
        book.record({TP: 20, TP1: 5})
        book.commit_async(consumer)
        assert [sent for sent, _ in consumer.sent] == [{TP: 10}]
        consumer.answer(0, "ok")
        assert {tp: m.offset for tp, m in book.pending().items()} == {TP: 20, TP1: 5}
        book.commit_async(consumer)
        assert consumer.sent[1][0] == {TP: 20, TP1: 5}
        consumer.answer(1, "ok")
        assert book.pending() == {}

    def test_each_request_sent_is_counted_and_none_when_one_is_in_flight(self) -> None:
        """The coordinator-load metric counts the requests sent: one while a commit is unanswered, none with
        nothing pending, and the synchronous one at close."""
        sent: list[None] = []
        book, consumer = OffsetBook(on_sent=lambda: sent.append(None)), HeldConsumer()
        book.commit_async(consumer)  # nothing pending
        book.record({TP: 10})
        book.commit_async(consumer)
        book.record({TP: 11})
        book.commit_async(consumer)  # the first is not answered yet
        assert len(sent) == 1
        consumer.answer(0, "ok")
        book.commit_sync(consumer)
        assert len(sent) == 2 and consumer.sync == [{TP: 11}]

    def test_a_failed_commit_keeps_the_offsets_for_the_next_one(self) -> None:
        """A broker error is reported and the offsets stay pending (the next commit retries them)."""
        failures: list[BaseException] = []
        book, consumer = OffsetBook(on_failure=failures.append, interval=0), HeldConsumer()
        book.record({TP: 10})
        book.commit_async(consumer)
        consumer.answer(0, KafkaTimeoutError("coordinator gone"))
        assert len(failures) == 1 and TP in book.pending()
        book.commit_async(consumer)
        assert len(consumer.sent) == 2

    def test_a_refused_commit_after_a_rebalance_is_dropped(self) -> None:
        """CommitFailedError: the partitions are someone else's; nothing is retried."""
        book, consumer = OffsetBook(), HeldConsumer()
        book.record({TP: 10})
        book.commit_async(consumer)
        consumer.answer(0, CommitFailedError("rebalanced"))
        assert book.pending() == {}

    def test_an_old_answer_does_not_clear_newer_offsets(self) -> None:
        """Success for offset 10 leaves a later-recorded 20 pending."""
        book, consumer = OffsetBook(), HeldConsumer()
        book.record({TP: 10})
        book.commit_async(consumer)
        book.record({TP: 20})
        consumer.answer(0, "ok")
        assert book.pending()[TP].offset == 20

    def test_commits_go_out_at_most_once_per_interval(self) -> None:
        """After a commit, the next waits COMMIT_INTERVAL even when answered at once; what was recorded
        meanwhile goes with it, and nothing recorded is ever left out."""
        clock = Clock(100.0)
        book, consumer = OffsetBook(clock=clock), HeldConsumer()
        book.record({TP: 10})
        book.commit_async(consumer)
        consumer.answer(0, "ok")
        book.record({TP: 20})
        book.commit_async(consumer)
        assert len(consumer.sent) == 1
        clock.now += COMMIT_INTERVAL
        book.record({TP1: 4})
        book.commit_async(consumer)
        assert consumer.sent[1][0] == {TP: 20, TP1: 4}

    def test_an_unanswered_commit_goes_stale(self) -> None:
        """A commit never answered stops blocking the next after COMMIT_STALE_SECONDS."""
        clock = Clock(100.0)
        book, consumer = OffsetBook(clock=clock), HeldConsumer()
        book.record({TP: 10})
        book.commit_async(consumer)
        book.commit_async(consumer)
        assert len(consumer.sent) == 1
        clock.now += 11
        book.commit_async(consumer)
        assert len(consumer.sent) == 2

    def test_close_commits_synchronously_and_revoke_asynchronously(self) -> None:
        """commit_sync waits for the broker; revoked() commits a revoked partition's offsets without waiting."""
        book, consumer = OffsetBook(), HeldConsumer()
        book.record({TP: 10, TP1: 3})
        book.revoked(consumer, {TP1}, can_commit=True)
        assert consumer.sent[0][0] == {TP1: 3}
        book.commit_sync(consumer)
        assert consumer.sync == [{TP: 10}]
        assert book.pending() == {}

    def test_a_commit_on_revoke_is_counted_too(self) -> None:
        """The coordinator-load metric counts the commit a revoke sends, and nothing when there is none to send."""
        sent: list[None] = []
        book, consumer = OffsetBook(on_sent=lambda: sent.append(None)), HeldConsumer()
        book.record({TP: 10})
        book.revoked(consumer, {TP1}, can_commit=True)  # nothing done for TP1
        book.revoked(consumer, {TP}, can_commit=True)
        assert len(sent) == 1 and consumer.sent[0][0] == {TP: 10}

    def test_lost_partitions_are_not_committed(self) -> None:
        """Partitions lost by eviction cannot be committed: they are only forgotten."""
        book, consumer = OffsetBook(), HeldConsumer()
        book.record({TP: 10})
        book.revoked(consumer, {TP}, can_commit=False)
        assert consumer.sent == [] and book.pending() == {}
