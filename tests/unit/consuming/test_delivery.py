"""consuming/delivery.py: the delivery line's steps with a fake enqueuer: writes in order, parts held back for an
earlier batch, a failed write retried between the caller's waits, revokes between two steps, the drain deadline.

Nothing here polls: loop_fakes.finish_retrying calls finish again after each
RetryLater, as the poll loop does after its wait paused in the group.
"""

from __future__ import annotations

from typing import Any

import pytest
from loop_fakes import TP0, TP1, FakeEnqueuer, FakeSender, finish_retrying, make_batch, make_line

from karafkad import defaults
from karafkad.consuming.delivery import WRITES_IN_FLIGHT, DeliveryLine, Finished, PollDelivery, RetryLater
from karafkad.errors import EnqueueError, ReplicasBehind


def _submit(line: DeliveryLine, *batches: tuple[Any, range]) -> PollDelivery:
    """One poll's delivery of a batch per (partition, offsets), opened and submitted."""
    delivery = line.open([(tp, make_batch(tp, offsets)) for tp, offsets in batches], {tp: -1 for tp, _ in batches})
    line.submit(delivery)
    return delivery


def _failing(attempts: set[int], error: Exception | None = None) -> Any:
    """An on_attempt hook that fails these attempts (numbered from 1)."""
    def fail(n: int) -> None:
        if n in attempts:
            raise error or EnqueueError("Redis: ConnectionError: refused")
    return fail


def _parts(writes: list[Any]) -> list[list[tuple[int, int, int]]]:
    """(partition, last offset, after) of each part of each write."""
    return [[(p.partition, p.last_offset, p.after) for p in write] for write in writes]


def _partitions(done: Finished | RetryLater | None) -> list[Any]:
    assert isinstance(done, Finished)
    return [tp for tp, _ in done.written]


class TestDeliveryLine:
    def test_nothing_in_flight_finishes_as_none(self) -> None:
        """finish() with no write in flight says so, and writes nothing."""
        enqueuer = FakeEnqueuer()
        assert make_line(enqueuer).finish() is None
        assert enqueuer.attempts == 0

    def test_writes_are_handed_back_oldest_first_two_at_most_in_flight(self) -> None:
        """Two deliveries may be in flight (a third waits for the oldest); each finishes with what it wrote."""
        enqueuer = FakeEnqueuer()
        line = make_line(enqueuer)
        first = _submit(line, (TP0, range(3)))
        _submit(line, (TP1, range(2)))
        assert line.in_flight() == WRITES_IN_FLIGHT and line.full()
        with pytest.raises(AssertionError):
            line.submit(PollDelivery([], {}))
        assert first.future is not None and first.future.exception(timeout=10) is None
        assert line.oldest_done()
        done = line.finish()
        assert isinstance(done, Finished) and done.result is not None and done.result.written == 3
        assert _partitions(done) == [TP0] and not done.gave_up
        assert _partitions(line.finish()) == [TP1]
        assert line.in_flight() == 0 and line.busy() == set()

    def test_a_later_part_held_for_an_earlier_batch_is_written_once_that_batch_is(self) -> None:
        """The earlier write of TP0 fails; the later one reaches the enqueuer meanwhile, guarded by where the
        earlier batch ends (`after`): its TP0 part is held back (nothing of it written, the mark unmoved), its
        TP1 part lands. The earlier batch is written again; then the held part, unguarded: every part once,
        in order, and the later delivery's result counts both of its writes."""
        enqueuer = FakeEnqueuer()
        enqueuer.on_attempt = _failing({1})
        line = make_line(enqueuer)
        _submit(line, (TP0, range(5)))
        later = _submit(line, (TP0, range(5, 8)), (TP1, range(2)))
        assert later.after == {(TP0, ""): 4}
        assert later.future is not None and later.future.result(timeout=10).held == (0,)
        assert _parts([enqueuer.held]) == [[(0, 7, 4)]] and _parts(enqueuer.writes) == [[(1, 1, -1)]]

        earlier_done = finish_retrying(line)
        assert _partitions(earlier_done) == [TP0]
        later_done = finish_retrying(line)
        assert isinstance(later_done, Finished) and later_done.result is not None
        assert _partitions(later_done) == [TP0, TP1]
        assert (later_done.result.written, later_done.result.held) == (5, ())
        assert _parts(enqueuer.writes) == [[(1, 1, -1)], [(0, 4, -1)], [(0, 7, -1)]]
        assert enqueuer.known_marks == {("g", "t", 0): 7, ("g", "t", 1): 1}

    def test_a_partition_given_up_at_the_drain_deadline_is_never_written_past(self) -> None:
        """The drain deadline passes while TP0's earlier write keeps failing: it is given up (not handed back,
        so not committed; the partition stays busy, so its position is not committed either). The later part
        of TP0 that Redis held back is given up with it; the later TP1 part was written and is handed back.
        A delivery submitted afterwards does not write TP0 at all."""
        enqueuer = FakeEnqueuer()
        enqueuer.on_attempt = _failing({1, 3, 4})  # 2 is the later write, which reaches Redis
        deadline: list[float | None] = [None]
        line = make_line(enqueuer, deadline=lambda: deadline[0])
        _submit(line, (TP0, range(5)))
        later = _submit(line, (TP0, range(5, 8)), (TP1, range(2)))
        assert later.future is not None and later.future.result(timeout=10).held == (0,)

        waits: list[float] = []

        def drain_runs_out_at_the_second_wait(seconds: float) -> None:
            waits.append(seconds)
            if len(waits) == 2:
                deadline[0] = 0.0

        given_up = finish_retrying(line, between=drain_runs_out_at_the_second_wait)
        assert isinstance(given_up, Finished)
        assert (given_up.written, given_up.result, given_up.gave_up) == ([], None, True)
        assert line.pauser.paused is False and line.pauser.waiting is None
        later_done = finish_retrying(line)
        assert _partitions(later_done) == [TP1]
        assert enqueuer.attempts == 4  # the held TP0 part was not tried again
        assert TP0 in line.busy() and TP1 not in line.busy()

        afterwards = _submit(line, (TP0, range(8, 9)), (TP1, range(2, 3)))
        assert _partitions(finish_retrying(line)) == [TP1]
        assert [[p.partition for p in write] for write in enqueuer.tried[-1:]] == [[1]]
        assert afterwards.lost == {TP0}
        assert ("g", "t", 0) not in enqueuer.known_marks

    def test_a_partition_revoked_during_a_retry_is_neither_retried_nor_handed_back(self) -> None:
        """A rebalance during the caller's wait revokes TP0 (the loop calls lose between two steps): the next
        tries carry TP1 only, and only TP1 is handed back to be committed."""
        enqueuer = FakeEnqueuer(failures=2)
        line = make_line(enqueuer)
        _submit(line, (TP0, range(3)), (TP1, range(2)))
        done = finish_retrying(line, between=lambda seconds: line.lose({TP0}))
        assert [[p.partition for p in write] for write in enqueuer.tried] == [[0, 1], [1], [1]]
        assert _partitions(done) == [TP1]
        assert line.busy() == set()  # revoked, not given up: its new owner commits it
        assert line.pauser.paused is False

    def test_a_retry_whose_partitions_are_all_revoked_ends_without_a_write(self) -> None:
        """Nothing of the delivery is this member's any more: the retry ends, nothing handed back, resumed."""
        enqueuer = FakeEnqueuer(failures=1)
        line = make_line(enqueuer)
        _submit(line, (TP0, range(3)))
        done = finish_retrying(line, between=lambda seconds: line.lose({TP0}))
        assert isinstance(done, Finished) and (done.written, done.result, done.gave_up) == ([], None, False)
        assert enqueuer.attempts == 1 and line.pauser.paused is False

    def test_a_failed_write_pauses_says_why_and_asks_to_be_called_again_after_the_backoff(self) -> None:
        """finish() never waits for a retry: it pauses every partition (the status line and the backpressure
        counter say why) and answers RetryLater with the next backoff, doubling; the line never polls. The
        write that lands resumes every partition."""
        enqueuer = FakeEnqueuer(failures=3)
        line = make_line(enqueuer)
        consumer = line.pauser.consumer
        _submit(line, (TP0, range(1)))
        steps = [line.finish() for _ in range(4)]
        first = defaults.BACKOFF_INITIAL
        assert steps[:3] == [RetryLater(first), RetryLater(first * 2), RetryLater(min(first * 4, defaults.BACKOFF_MAX))]
        assert _partitions(steps[3]) == [TP0]
        assert consumer.polls == 0  # type: ignore[attr-defined]
        assert consumer.paused() == set() and line.pauser.waiting is None
        metrics = line.services.metrics
        assert metrics.backpressure.labels("g", "redis")._value.get() == 1
        assert metrics.recent.snapshot()[0]["kind"] == "redis"

    def test_while_a_write_is_retried_every_partition_is_paused_and_the_latest_cause_shown(self) -> None:
        """Redis down, then its new primary without replicas: the status line follows the cause."""
        behind = ReplicasBehind("Redis: 0 of 1 replicas acknowledged the batch within 1000 ms")
        enqueuer = FakeEnqueuer()
        enqueuer.on_attempt = _failing({1})
        line = make_line(enqueuer)
        _submit(line, (TP0, range(1)))
        assert isinstance(line.finish(), RetryLater)
        assert line.pauser.consumer.paused() == {TP0, TP1}
        assert line.pauser.waiting == "redis: Redis: ConnectionError: refused"
        enqueuer.on_attempt = _failing({2}, behind)
        assert isinstance(line.finish(), RetryLater)
        assert line.pauser.waiting == f"replicas: {behind}"

    def test_dead_letters_are_sent_once_and_a_refusing_topic_is_a_failed_write(self) -> None:
        """A batch's dead letters go out before its jobs; a refused send is retried like a failed write (reason
        dead_letter), and once sent they are not sent again when the Redis write is what fails."""
        enqueuer = FakeEnqueuer()
        enqueuer.on_attempt = _failing({1})
        sender = FakeSender(failures=1)
        line = make_line(enqueuer, sender=sender)
        batch = make_batch(TP0, range(2))
        batch.dead_letters = ["letter"]  # type: ignore[list-item]
        line.submit(line.open([(TP0, batch)], {TP0: -1}))
        assert isinstance(line.finish(), RetryLater)
        assert line.pauser.waiting == "dead_letter: dead-letter topic refused a message"
        assert enqueuer.attempts == 0  # nothing reaches Redis before the dead letters are acknowledged
        assert isinstance(line.finish(), RetryLater)  # sent now; the Redis write failed
        assert _partitions(finish_retrying(line)) == [TP0]
        assert (sender.calls, sender.sent) == (2, ["letter"])

    def test_a_partition_revoked_while_its_write_is_in_flight_is_written_but_not_handed_back(self) -> None:
        """The write went out before the revoke was known; what is handed back to be committed leaves it out."""
        enqueuer = FakeEnqueuer()
        line = make_line(enqueuer)
        _submit(line, (TP0, range(1)), (TP1, range(1)))
        assert TP0 in line.busy()
        line.lose({TP0})
        done = finish_retrying(line)
        assert _partitions(done) == [TP1]
        assert _parts(enqueuer.writes) == [[(0, 0, -1), (1, 0, -1)]]
