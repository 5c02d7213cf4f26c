"""enqueuer.py against a real Redis: one atomic write per batch, and never the same job twice; marks.py reads the
marks it moved back."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import redis_client

from karafkad.config.settings import JobOptions
from karafkad.errors import EnqueueError
from karafkad.pipeline.outcomes import JobNaming, PendingJob
from karafkad.routes.jobs import build_template
from karafkad.store.enqueuer import Enqueuer, PartitionWrite
from karafkad.store.keys import QUEUES_KEY, job_key, mark_key, queue_key, replay_key, scheduled_key
from karafkad.store.marks import MarkReader, PartitionMarks
from karafkad.store.replays import ReplayWindow


def _naming(queue: str = "q", id_head: str = "kd-t-x-0-", route: str = "r", timed: bool = False,
            **options: object) -> JobNaming:
    template = build_template(queue, "mod.func", JobOptions(**options))  # type: ignore[arg-type]
    return JobNaming(route, template, id_head, "", "d", timed=timed)


def _jobs(offsets: list[int], queue: str = "q", **options: object) -> list[PendingJob]:
    naming = _naming(queue, **options)
    return [PendingJob(naming, o, naming.template.encode([{"n": o}])) for o in offsets]


def _write(enqueuer: Enqueuer, offsets: list[int], last: int | None = None, highwater: int = -1,
           **options: object) -> tuple[int, list[str]]:
    jobs = _jobs(offsets, **options)
    result = enqueuer.write([PartitionWrite("g", "t", 0, last if last is not None else max(offsets), jobs,
                                            highwater)])
    return result.written, [j.job_id for j in result.duplicates]


class TestEnqueuer:
    def test_a_batch_is_written_and_queued_in_order(self) -> None:
        """Every job hash exists and the queue lists the ids in offset order; the mark is the last offset."""
        client = redis_client()
        assert _write(Enqueuer(client, 3600), [0, 1, 2]) == (3, [])
        assert client.lrange(queue_key("q"), 0, -1) == [b"kd-t-x-0-0", b"kd-t-x-0-1", b"kd-t-x-0-2"]
        assert client.exists(job_key("kd-t-x-0-1"))
        assert client.sismember(QUEUES_KEY, queue_key("q"))
        assert client.get(mark_key("g", "t", 0)) == b"2"
        assert 3500 < client.ttl(mark_key("g", "t", 0)) <= 3600

    def test_a_redelivered_batch_writes_nothing_again(self) -> None:
        """Writing the same offsets again (a crash before commit) reports duplicates and queues nothing."""
        client = redis_client()
        enqueuer = Enqueuer(client, 3600)
        _write(enqueuer, [0, 1, 2])
        client.delete(job_key("kd-t-x-0-1"))  # RQ already ran and deleted one: still not written again
        written, duplicates = _write(enqueuer, [1, 2, 3])
        assert written == 1 and duplicates == ["kd-t-x-0-1", "kd-t-x-0-2"]
        assert client.lrange(queue_key("q"), 0, -1) == [b"kd-t-x-0-0", b"kd-t-x-0-1", b"kd-t-x-0-2", b"kd-t-x-0-3"]
        assert not client.exists(job_key("kd-t-x-0-1"))

    def test_a_batch_without_jobs_still_moves_the_mark(self) -> None:
        """Filtered or dead-lettered messages advance the mark, so a redelivery skips them too."""
        client = redis_client()
        enqueuer = Enqueuer(client, 3600)
        enqueuer.write([PartitionWrite("g", "t", 0, 9, [])])
        assert MarkReader(client).read("g", [("t", 0), ("t", 1)]) == {("t", 0): PartitionMarks(9),
                                                                      ("t", 1): PartitionMarks(-1)}

    def test_a_mark_beyond_the_log_end_is_stale_and_reset(self) -> None:
        """A mark at or above the partition's log end (topic recreated) does not block new messages."""
        client = redis_client()
        enqueuer = Enqueuer(client, 3600)
        _write(enqueuer, [500])
        written, duplicates = _write(enqueuer, [0, 1], highwater=2)
        assert (written, duplicates) == (2, [])
        assert client.get(mark_key("g", "t", 0)) == b"1"

    def test_at_front_and_ttl_follow_the_job_options(self) -> None:
        """at_front pushes on the left; a job ttl expires the hash."""
        client = redis_client()
        client.rpush(queue_key("q"), "older")
        _write(Enqueuer(client, 3600), [0], at_front=True, ttl=120)
        assert client.lrange(queue_key("q"), 0, -1) == [b"kd-t-x-0-0", b"older"]
        assert 0 < client.ttl(job_key("kd-t-x-0-0")) <= 120

    def test_jobs_of_two_routes_in_one_partition_are_each_written_once_in_offset_order(self) -> None:
        """Two routes of a topic interleave their jobs in a batch: each job is written once, under its own id
        and description, and each route's queue lists its ids in offset order; a redelivery writes nothing."""
        client = redis_client()
        enqueuer = Enqueuer(client, 3600)
        first, second = _naming("one", "kd-t-a-0-", "a"), _naming("two", "kd-t-b-0-", "b")
        jobs = [PendingJob(naming, o, naming.template.encode([o])) for o in range(4) for naming in (first, second)]
        assert enqueuer.write([PartitionWrite("g", "t", 0, 3, jobs)]).written == 8
        assert client.lrange(queue_key("one"), 0, -1) == [f"kd-t-a-0-{o}".encode() for o in range(4)]
        assert client.lrange(queue_key("two"), 0, -1) == [f"kd-t-b-0-{o}".encode() for o in range(4)]
        assert client.hget(job_key("kd-t-b-0-2"), "description") == b"d2"
        again = enqueuer.write([PartitionWrite("g", "t", 0, 3, jobs)])
        assert again.written == 0 and sorted(j.job_id for j in again.duplicates) == sorted(j.job_id for j in jobs)

    def test_a_timed_route_queues_jobs_due_now_and_schedules_the_others(self) -> None:
        """A route with a due time: a job due now goes to the queue, one due later to RQ's scheduled-job
        registry (scored by its due time), in one run of the script."""
        client = redis_client()
        naming = _naming("timed", timed=True)
        jobs = [PendingJob(naming, 0, naming.template.encode([0])), PendingJob(naming, 1, naming.template.encode([1]),
                                                                           at=4_000_000_000)]
        assert Enqueuer(client, 3600).write([PartitionWrite("g", "t", 0, 1, jobs)]).written == 2
        assert client.lrange(queue_key("timed"), 0, -1) == [b"kd-t-x-0-0"]
        assert client.zrange(scheduled_key("timed"), 0, -1, withscores=True) == [(b"kd-t-x-0-1", 4_000_000_000)]
        assert client.hget(job_key("kd-t-x-0-1"), "status") == b"scheduled"

    def test_jobs_carrying_their_own_ids_keep_them(self) -> None:
        """Jobs that carry their own id and description (a batch route's, a re-driven dead letter's) are
        written under those, deduplicated by their offset."""
        client = redis_client()
        naming = JobNaming("r", _naming().template, "", own_ids=True, own_descriptions=True)
        job = PendingJob(naming, 7, naming.template.encode([7]), own_id="kd-own-3-9", own_description="several")
        assert Enqueuer(client, 3600).write([PartitionWrite("g", "t", 0, 7, [job])]).written == 1
        assert client.hget(job_key("kd-own-3-9"), "description") == b"several"
        assert client.get(mark_key("g", "t", 0)) == b"7"

    def test_a_job_s_meta_is_written_beside_whatever_else_it_carries(self) -> None:
        """Meta (a message's trace context) on a job of an ordered route that waits for the one before it, and on
        a job due later; a job of the same run without it has no meta field."""
        client = redis_client()
        template = build_template("ordered", "mod.func", JobOptions(), ordered=True)
        naming = JobNaming("r", template, "kd-o-", "", "d", ordering="key", chain="c:0", timed=True)
        meta = b'{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}'
        jobs = [PendingJob(naming, 0, template.encode([0]), link=b"k:a"),
                PendingJob(naming, 1, template.encode([1]), link=b"k:a", meta=meta),
                PendingJob(naming, 2, template.encode([2]), at=4_000_000_000, link=b"k:b", meta=meta)]
        assert Enqueuer(client, 3600).write([PartitionWrite("g", "t", 0, 2, jobs)]).written == 3
        assert client.hget(job_key("kd-o-0"), "meta") is None
        assert client.hmget(job_key("kd-o-1"), "meta", "dependency_id", "status") == [meta, b"kd-o-0", b"deferred"]
        assert client.hmget(job_key("kd-o-2"), "meta", "status") == [meta, b"scheduled"]

    def test_an_unreachable_redis_is_an_enqueue_error(self, tmp_path: Path) -> None:
        """Connection refused surfaces as EnqueueError (the consumer then pauses and retries)."""
        import redis

        dead = redis.Redis(port=1, socket_connect_timeout=1)
        with pytest.raises(EnqueueError):
            _write(Enqueuer(dead, 3600), [0])
        with pytest.raises(EnqueueError):
            MarkReader(dead).read("g", [("t", 0)])


class TestMarkReader:
    def test_a_replay_window_and_its_mark_are_read_with_the_partitions_mark(self) -> None:
        """What the consumer reads for partitions it has not seen: the group's mark, the window as `karafkad
        replay` stores it, and the replay's own mark as the script moved it; a partition without either: -1."""
        client = redis_client()
        window = ReplayWindow(5, 0, 10, ("r",))
        client.hset(replay_key("g", "t", 0), mapping=window.encode())  # type: ignore[arg-type]
        Enqueuer(client, 3600).write([PartitionWrite("g", "t", 0, 9, []),
                                      PartitionWrite("g", "t", 0, 3, [], stream=window.stream)])
        assert MarkReader(client).read("g", [("t", 0), ("t", 1)]) == {("t", 0): PartitionMarks(9, window, 3),
                                                                      ("t", 1): PartitionMarks()}
