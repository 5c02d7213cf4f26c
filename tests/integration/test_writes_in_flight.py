"""Two writes in flight against a real Redis: a later batch never lands past an earlier one whose write failed.

The delivery line (consuming/delivery.py) lets a consumer thread have two writes
on their way to Redis. If the earlier one fails and the later one, for the same
partition, reached Redis first, the later batch's mark would make the earlier
batch's jobs look like duplicates when it is written again: lost. These tests
drive a real DeliveryLine and Enqueuer, inject the failure of the earlier write,
and count every job.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness import job_ids, redis_client
from kafka import TopicPartition
from loop_fakes import finish_retrying, make_batch, make_line

from karafkad.config.settings import JobOptions
from karafkad.consuming.delivery import DeliveryLine, PollDelivery
from karafkad.errors import EnqueueError
from karafkad.pipeline.outcomes import PartitionBatch
from karafkad.routes.jobs import build_template
from karafkad.store.enqueuer import Enqueuer, PartitionWrite, WriteResult, mark_key

P = TopicPartition("t", 0)
Q = TopicPartition("t", 1)
TEMPLATE = build_template("inflight", "effects.record", JobOptions())


class FailingFirst:
    """The real enqueuer, except that the first write fails before it reaches Redis (Redis "down" for it),
    and the state of Redis is recorded after each write that does reach it."""

    def __init__(self, enqueuer: Enqueuer) -> None:
        self.enqueuer = enqueuer
        self.calls = 0
        self.after_each: list[tuple[list[bytes], bytes | None]] = []

    def write(self, partitions: Iterable[PartitionWrite]) -> WriteResult:
        parts = list(partitions)
        self.calls += 1
        if self.calls == 1:
            raise EnqueueError("Redis: ConnectionError: injected")
        result = self.enqueuer.write(parts)
        client = self.enqueuer.client
        self.after_each.append((client.lrange("rq:queue:inflight", 0, -1), client.get(mark_key("g", "t", 0))))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.enqueuer, name)


class FailingAfterFirst(FailingFirst):
    """The real enqueuer, except that the first write reaches Redis and fails after (a replica that did not
    acknowledge it in time: redis.min_replicas_acked)."""

    def write(self, partitions: Iterable[PartitionWrite]) -> WriteResult:
        self.calls += 1
        result = self.enqueuer.write(list(partitions))
        if self.calls == 1:
            raise EnqueueError("Redis: 0 of the 1 replica(s) required acknowledged the batch (injected)")
        return result


def _batch(tp: TopicPartition, offsets: range) -> PartitionBatch:
    return make_batch(tp, offsets, TEMPLATE)


def _line(enqueuer: object, deadline: float | None = None) -> DeliveryLine:
    """A real DeliveryLine over `enqueuer`; its pauser's consumer is a fake (nothing polls here: the tests call
    finish again after each RetryLater, as the poll loop does after its wait)."""
    return make_line(enqueuer, deadline=lambda: deadline, assignment=(P, Q))


def test_a_later_write_never_lands_past_an_earlier_failed_one() -> None:
    """The earlier write of partition P fails; the later one (P and Q) reaches Redis while it does: its P
    part is held back (no job, mark unmoved), its Q part is written. Once the earlier one is written
    again, the held part follows: every job exactly once, the marks at the end, nothing lost."""
    client = redis_client()
    enqueuer = FailingFirst(Enqueuer(client, 3600))
    line = _line(enqueuer)
    earlier = line.open([(P, _batch(P, range(5)))], {P: -1})
    later = line.open([(P, _batch(P, range(5, 10))), (Q, _batch(Q, range(3)))], {P: -1, Q: -1})
    line.submit(earlier)
    line.submit(later)
    assert later.after == {(P, ""): 4}
    assert later.future is not None and later.future.exception(timeout=30) is None  # it reached Redis first
    first = finish_retrying(line)  # the earlier one: failed, written again (paused)
    second = finish_retrying(line)  # the later one: its held part written after the earlier one

    queued_after_later, mark_after_later = enqueuer.after_each[0]
    assert [i.decode() for i in queued_after_later] == ["kd-t-1-0", "kd-t-1-1", "kd-t-1-2"]
    assert mark_after_later is None  # P's mark did not move past the failed earlier batch
    assert first is not None and first.result is not None and first.result.written == 5
    assert second is not None and second.result is not None
    assert second.result.written == 8 and second.result.held == ()
    assert sorted(job_ids("inflight", client)) == sorted([f"kd-t-0-{o}" for o in range(10)]
                                                         + [f"kd-t-1-{o}" for o in range(3)])
    assert client.get(mark_key("g", "t", 0)) == b"9" and client.get(mark_key("g", "t", 1)) == b"2"
    line.close()


def test_an_earlier_write_that_landed_and_failed_is_not_enqueued_again_past_the_later_one() -> None:
    """The earlier write of P lands and fails after (unacknowledged by a replica); the later one lands and moves
    P's mark past the earlier poll's highwater. Written again, the earlier batch is all duplicates: the mark is
    not taken for a stale one (the newest highwater is sent), every job is queued once, the mark ends at 9."""
    client = redis_client()
    line = _line(FailingAfterFirst(Enqueuer(client, 3600)))
    earlier = line.open([(P, _batch(P, range(5)))], {P: 5})
    later = line.open([(P, _batch(P, range(5, 10)))], {P: 10})
    line.submit(earlier)
    line.submit(later)
    first = finish_retrying(line)
    second = finish_retrying(line)
    assert first is not None and first.result is not None and len(first.result.duplicates) == 5
    assert second is not None and second.result is not None
    ids = job_ids("inflight", client)
    assert sorted(ids) == sorted(f"kd-t-0-{o}" for o in range(10)), ids  # each once: none enqueued twice
    assert client.get(mark_key("g", "t", 0)) == b"9"
    line.close()


def test_without_the_guard_the_same_order_loses_the_earlier_batch() -> None:
    """The control: the later batch's part written unguarded before the earlier batch makes the earlier
    batch's jobs duplicates when it is written: lost. This is what `after` prevents."""
    client = redis_client()
    enqueuer = Enqueuer(client, 3600)
    later, earlier = _batch(P, range(5, 10)), _batch(P, range(5))
    enqueuer.write([PartitionWrite("g", "t", 0, 9, later.jobs)])
    result = enqueuer.write([PartitionWrite("g", "t", 0, 4, earlier.jobs)])
    assert result.written == 0 and len(result.duplicates) == 5  # taken for duplicates: never enqueued
    assert sorted(job_ids("inflight", client)) == sorted(f"kd-t-0-{o}" for o in range(5, 10))


def test_a_later_batch_is_given_up_with_an_earlier_one_given_up_at_the_drain_deadline() -> None:
    """Past the drain deadline the failed earlier write is given up (uncommitted, consumed again after the
    restart); the later batch of the same partition must not land past it, so it is given up too. Another
    partition of the later batch is written and may be committed."""
    client = redis_client()
    enqueuer = FailingFirst(Enqueuer(client, 3600))
    line = _line(enqueuer, deadline=0.0)
    earlier = line.open([(P, _batch(P, range(5)))], {P: -1})
    later = line.open([(P, _batch(P, range(5, 10))), (Q, _batch(Q, range(3)))], {P: -1, Q: -1})
    line.submit(earlier)
    line.submit(later)
    given_up = finish_retrying(line)
    assert given_up is not None and given_up.gave_up and given_up.result is None
    done = finish_retrying(line)
    assert done is not None and done.result is not None
    assert [tp for tp, _ in done.written] == [Q] and done.result.written == 3
    assert P in line.busy()  # never committed past
    assert job_ids("inflight", client) == ["kd-t-1-0", "kd-t-1-1", "kd-t-1-2"]
    assert client.get(mark_key("g", "t", 0)) is None
    line.close()


def test_a_later_write_of_a_partition_given_up_before_it_is_not_written() -> None:
    """A batch decided after its partition was given up (the same loop turn) is not written for it."""
    client = redis_client()
    enqueuer = FailingFirst(Enqueuer(client, 3600))
    line = _line(enqueuer, deadline=0.0)
    earlier = line.open([(P, _batch(P, range(5)))], {P: -1})
    line.submit(earlier)
    given_up = finish_retrying(line)
    assert given_up is not None and given_up.gave_up
    later = line.open([(P, _batch(P, range(5, 10)))], {P: -1})
    line.submit(later)
    done = finish_retrying(line)
    assert done is not None and done.written == [] and done.result is not None and done.result.written == 0
    assert job_ids("inflight", client) == [] and client.get(mark_key("g", "t", 0)) is None
    line.close()


def test_delivery_after_names_only_marks_of_earlier_batches_in_flight() -> None:
    """A delivery's guards are the last offsets of the batches in flight before it, per mark (partition and
    stream); a replay's batch is guarded by the replay's own mark."""
    line = _line(FailingFirst(Enqueuer(redis_client(), 3600)))
    replayed = _batch(P, range(2))
    replayed.stream = "r1"
    earlier = line.open([(P, _batch(P, range(5))), (P, replayed)], {P: -1})
    later: PollDelivery = line.open([(P, _batch(P, range(5, 7)))], {P: -1})
    line.submit(earlier)
    line.submit(later)
    assert later.after == {(P, ""): 4, (P, "r1"): 1}
    finish_retrying(line)
    finish_retrying(line)
    line.close()
