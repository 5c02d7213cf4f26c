"""consuming/poll_loop.py: commit discipline, the waits paused in the group, rebalances and unreadable batches,
driven through the ConsumerThread that runs the loop, with a fake Kafka consumer.

The fakes stand in for kafka-python and Redis only; the pipeline, the route
table and the loop's units are the real ones.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from clocks import Clock
from kafka import TopicPartition
from kafka_fakes import FakeConsumer, ParkedRecords
from loop_fakes import TP0, TP1, FakeEnqueuer, FakeSender, fast_backoff, make_thread, run_thread
from tables import records

from karafkad import defaults
from karafkad.clients.registry.api import RegisteredSchema
from karafkad.consuming.backpressure import QueueGate
from karafkad.errors import EnqueueError, ReplicasBehind
from karafkad.store.replays import ReplayWindow

TP2 = TopicPartition("t", 2)


class OneSchema:
    """A schema registry that answers: id 1 is an Avro record {n: long}."""

    def describe(self) -> str:
        return "http://registry"

    def schema(self, schema_id: int) -> RegisteredSchema | None:
        fields = [{"name": "n", "type": "long"}]
        return RegisteredSchema(json.dumps({"type": "record", "name": "O", "fields": fields}), schema_id=schema_id)


def marks_unreadable_once(enqueuer: FakeEnqueuer) -> None:
    """The enqueuer's first read of the marks fails as with Redis down; the next ones answer."""
    failing = [True]
    original = enqueuer.read

    def flaky(group: str, partitions: Any) -> Any:
        if failing:
            failing.pop()
            raise EnqueueError("Redis: ConnectionError: refused")
        return original(group, partitions)

    enqueuer.read = flaky  # type: ignore[method-assign]


class TestPollLoop:
    def test_offsets_are_committed_after_the_write(self, tmp_path: Path) -> None:
        """A batch is written, then its commit offsets are committed, per partition."""
        consumer, enqueuer, _ = run_thread(tmp_path, [{TP0: records([{"n": 1}, {"n": 2}]),
                                                       TP1: records([{"n": 3}], partition=1, start=5)}])
        assert len(enqueuer.writes) == 1
        assert {(w.partition, w.last_offset, len(w.jobs)) for w in enqueuer.writes[0]} == {(0, 1, 2), (1, 5, 1)}
        assert consumer.commits == [{TP0: 2, TP1: 6}]
        assert consumer.sync_commits == []  # asynchronous: the thread does not wait for the broker
        assert consumer.closed

    def test_nothing_is_committed_while_redis_fails_and_partitions_pause(self, monkeypatch: Any,
                                                                         tmp_path: Path) -> None:
        """Failed writes pause every partition and keep polling; after success it resumes and commits once."""
        fast_backoff(monkeypatch)
        enqueuer = FakeEnqueuer(failures=3)
        thread, consumer, _ = make_thread(tmp_path, [{TP0: records([{"n": 1}])}], enqueuer=enqueuer)
        seen: list[tuple[int, set[TopicPartition]]] = []
        enqueuer.on_attempt = lambda n: seen.append((len(consumer.commits), consumer.paused()))
        thread.run()
        assert enqueuer.attempts == 4
        assert [commits for commits, _ in seen] == [0, 0, 0, 0]
        assert seen[1][1] == {TP0, TP1}  # paused from the second attempt on
        assert consumer.commits == [{TP0: 1}]
        assert consumer.paused() == set()
        assert consumer.polls >= 4  # kept polling (heartbeats, group membership) while paused

    def test_the_loop_waits_between_the_tries_of_a_failed_write_with_paused_polls(self, monkeypatch: Any,
                                                                                  tmp_path: Path) -> None:
        """The delivery line never polls: between two tries the loop polls once, every partition paused, for as
        long as the line's backoff says (1 ms, then 2, the cap here), and the line tries again after it."""
        fast_backoff(monkeypatch)
        enqueuer = FakeEnqueuer(failures=3)
        thread, consumer, _ = make_thread(tmp_path, [{TP0: records([{"n": 1}])}], enqueuer=enqueuer)
        polls_at_retry: list[int] = []
        enqueuer.on_attempt = lambda n: polls_at_retry.append(consumer.polls) if n > 1 else None
        thread.run()
        # poll 1 brought the batch; poll 2 brought nothing (the script's end), so the loop saw the write through
        assert consumer.timeouts == [defaults.POLL_TIMEOUT_MS, defaults.POLL_TIMEOUT_MS, 1, 2, 2]
        assert polls_at_retry == [3, 4, 5]
        assert consumer.commits == [{TP0: 1}]

    def test_replicas_behind_pause_the_thread_and_it_says_why_until_they_catch_up(self, monkeypatch: Any,
                                                                                 tmp_path: Path) -> None:
        """A write fewer replicas acknowledged than required is retried, paused, uncommitted; meanwhile the
        thread's `waiting` (the status page) names the replicas, and the backpressure reason is 'replicas'."""
        fast_backoff(monkeypatch)
        behind = ReplicasBehind("Redis: 0 of 1 replicas acknowledged the batch within 1000 ms")
        enqueuer = FakeEnqueuer(failures=2, error=behind)
        thread, consumer, _ = make_thread(tmp_path, [{TP0: records([{"n": 1}])}], enqueuer=enqueuer)
        waiting: list[str | None] = []
        enqueuer.on_attempt = lambda n: waiting.append(thread.waiting)
        thread.run()
        assert waiting == [None, f"replicas: {behind}", f"replicas: {behind}"]
        assert thread.waiting is None  # written at last: no longer waiting
        assert consumer.commits == [{TP0: 1}]
        assert thread.services.metrics.backpressure.labels("g", "replicas")._value.get() == 1

    def test_a_partition_revoked_during_an_outage_is_dropped_not_committed(self, monkeypatch: Any,
                                                                           tmp_path: Path) -> None:
        """If a partition is revoked while its batch waits for Redis, the batch is dropped (the new owner redoes it)."""
        fast_backoff(monkeypatch)
        enqueuer = FakeEnqueuer(failures=2)

        def revoke_tp0(consumer: FakeConsumer) -> None:
            consumer.revoke(TP0)

        consumer, enqueuer, _ = run_thread(
            tmp_path, [{TP0: records([{"n": 1}]), TP1: records([{"n": 2}], partition=1)}, revoke_tp0],
            enqueuer=enqueuer)
        written = [(w.partition, w.last_offset) for w in enqueuer.writes[0]]
        assert written == [(1, 0)]
        assert consumer.commits == [{TP1: 1}]

    def test_a_partition_revoked_while_its_write_is_in_flight_is_not_committed(self, tmp_path: Path) -> None:
        """A rebalance during the write (the next poll) drops the revoked partition from the commit."""
        def revoke_tp0(consumer: FakeConsumer) -> None:
            consumer.revoke(TP0)

        consumer, enqueuer, _ = run_thread(
            tmp_path, [{TP0: records([{"n": 1}]), TP1: records([{"n": 2}], partition=1)}, revoke_tp0])
        assert {w.partition for w in enqueuer.writes[0]} == {0, 1}  # written before the revoke was known
        assert consumer.commits == [{TP1: 1}]

    def test_a_drain_deadline_during_an_outage_gives_the_batch_up_uncommitted(self, tmp_path: Path) -> None:
        """Past the drain deadline a batch that cannot be written is abandoned: no commit, thread marked."""
        consumer, _, thread = run_thread(tmp_path, [{TP0: records([{"n": 1}])}], enqueuer=FakeEnqueuer(failures=99),
                                         deadline=0.0)
        assert consumer.commits == []
        assert thread.abandoned

    def test_dead_letters_are_sent_once_before_the_write(self, monkeypatch: Any, tmp_path: Path) -> None:
        """Dead letters go out before the Redis write; a retried write does not send them again."""
        fast_backoff(monkeypatch)
        sender = FakeSender()
        route = {"topic": "t", "handler": "h.handle", "dead_letter": "d"}
        consumer, _, _ = run_thread(tmp_path, [{TP0: records([b"junk", {"n": 1}])}], sender=sender,
                                    enqueuer=FakeEnqueuer(failures=1), routes=[route])
        assert len(sender.sent) == 1 and sender.calls == 1
        assert consumer.commits == [{TP0: 2}]

    def test_a_failing_dead_letter_topic_is_backpressure_too(self, monkeypatch: Any, tmp_path: Path) -> None:
        """When the dead-letter topic refuses, nothing is written or committed until it accepts."""
        fast_backoff(monkeypatch)
        sender = FakeSender(failures=2)
        route = {"topic": "t", "handler": "h.handle", "dead_letter": "d"}
        consumer, enqueuer, _ = run_thread(tmp_path, [{TP0: records([b"junk"])}], sender=sender, routes=[route])
        assert sender.calls == 3
        assert len(enqueuer.writes) == 1 and enqueuer.attempts == 1
        assert consumer.commits == [{TP0: 1}]

    def test_marks_from_redis_skip_already_handled_records(self, tmp_path: Path) -> None:
        """Records at or below the partition's Redis mark (handled before a crash) make no job."""
        enqueuer = FakeEnqueuer(marks={("g", "t", 0): 1})
        consumer, enqueuer, _ = run_thread(tmp_path, [{TP0: records([{"n": 0}, {"n": 1}, {"n": 2}])}],
                                           enqueuer=enqueuer)
        assert [j.offset for j in enqueuer.writes[0][0].jobs] == [2]
        assert consumer.commits == [{TP0: 3}]

    def test_a_full_queue_pauses_until_it_drains(self, tmp_path: Path) -> None:
        """Above the high watermark the thread pauses; below the low one it resumes."""
        enqueuer = FakeEnqueuer()
        enqueuer.lengths["q"] = 500
        gate = QueueGate(enqueuer.queue_lengths, ("q",), high=100, low=10, interval=0.0)
        paused_while_full: list[set[TopicPartition]] = []

        def drain_queue(consumer: FakeConsumer) -> None:
            paused_while_full.append(consumer.paused())
            enqueuer.lengths["q"] = 5

        consumer, _, _ = run_thread(tmp_path, [{TP0: records([{"n": 1}])}, drain_queue, {}], enqueuer=enqueuer,
                                    gate=gate)
        assert paused_while_full == [{TP0, TP1}]
        assert consumer.paused() == set()

    def test_the_next_batch_is_written_while_the_one_before_is_still_in_flight(self, tmp_path: Path) -> None:
        """A slow write does not stop the thread from polling, deciding and submitting the next batch: two
        writes in flight, a later part guarded by the earlier batch of its partition, committed in order."""
        release = threading.Event()
        enqueuer = FakeEnqueuer()
        enqueuer.on_attempt = lambda n: release.wait(10) if n == 1 else None
        in_flight: list[int] = []

        def second(consumer: FakeConsumer) -> dict[TopicPartition, list[Any]]:
            return {TP0: records([{"n": 2}], start=1)}

        def third(consumer: FakeConsumer) -> None:
            assert thread.loop is not None
            in_flight.append(thread.loop.line.in_flight())
            release.set()

        thread, consumer, _ = make_thread(tmp_path, [{TP0: records([{"n": 1}])}, second, third], enqueuer=enqueuer)
        thread.run()
        assert in_flight == [2]
        assert [[(w.partition, w.last_offset, w.after) for w in write] for write in enqueuer.writes] == [
            [(0, 0, -1)], [(0, 1, 0)]]
        assert consumer.commits[-1] == {TP0: 2}

    def test_a_batch_is_committed_at_the_position_past_a_transaction_marker(self, tmp_path: Path) -> None:
        """read_committed: the poll went past the commit marker at 3, so 4 is committed, not last record + 1."""
        def poll(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            consumer._subscription.move(TP0, 4)
            return {TP0: records([{"n": 0}, {"n": 1}, {"n": 2}])}

        consumer, enqueuer, _ = run_thread(tmp_path, [poll])
        assert enqueuer.writes[0][0].last_offset == 2  # the mark is the last record: dedupe is by record
        assert consumer.commits == [{TP0: 4}]

    def test_a_partition_that_moves_without_records_is_committed_where_it_stands(self, tmp_path: Path) -> None:
        """A commit marker arriving on its own moves the position but returns nothing: lag still reaches 0."""
        def poll(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            consumer._subscription.move(TP1, 7)
            return {}

        consumer, enqueuer, _ = run_thread(tmp_path, [poll])
        assert enqueuer.writes == []
        assert consumer.commits == [{TP1: 7}]

    def test_a_partition_with_a_batch_in_flight_is_not_committed_past_it(self, tmp_path: Path) -> None:
        """While a batch is being written, its partition's position is not committed on its own (never ahead)."""
        commits_during_write: list[list[dict[TopicPartition, int]]] = []
        enqueuer = FakeEnqueuer()

        def poll(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            consumer._subscription.move(TP0, 2)
            enqueuer.on_attempt = lambda _: commits_during_write.append(list(consumer.commits))
            return {TP0: records([{"n": 0}, {"n": 1}])}

        consumer, _, _ = run_thread(tmp_path, [poll], enqueuer=enqueuer)
        assert commits_during_write == [[]]
        assert consumer.commits == [{TP0: 2}]

    def test_a_batch_given_up_at_the_drain_deadline_is_not_committed_at_the_position(self, tmp_path: Path) -> None:
        """The position is past the batch, but the batch is not in Redis: neither it nor the position is committed."""
        def poll(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            consumer._subscription.move(TP0, 1)
            return {TP0: records([{"n": 1}])}

        consumer, _, thread = run_thread(tmp_path, [poll, {}, {}], enqueuer=FakeEnqueuer(failures=99), deadline=0.0)
        assert thread.abandoned
        assert consumer.commits == []

    def test_a_batch_the_client_cannot_read_holds_only_its_partition(self, tmp_path: Path) -> None:
        """The error names no partition; the parked records do: drained (no spin), paused, held, counted."""
        parked = ParkedRecords(TP1, 5)

        def unreadable(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            consumer._fetcher._next_partition_records = parked
            raise RuntimeError("Libraries for lz4 compression codec not found")

        consumer, enqueuer, thread = run_thread(tmp_path, [unreadable, {TP0: records([{"n": 1}])}])
        assert parked.drained
        assert TP1 in consumer.paused() and TP0 not in consumer.paused()
        assert [w.partition for w in enqueuer.writes[0]] == [0]  # the other partition went on
        metrics = thread.services.metrics
        assert metrics.unreadable.labels("g", "t")._value.get() == 1
        assert "lz4" in metrics.recent.snapshot()[0]["message"]

    def test_a_held_partition_stays_paused_through_a_wait_and_is_released_when_revoked(self, monkeypatch: Any,
                                                                                      tmp_path: Path) -> None:
        """A wait (Redis failing) pauses every partition and then resumes all but the held one; revoking the held
        partition forgets it and its gauge (its new owner meets the batch itself)."""
        fast_backoff(monkeypatch)
        parked = ParkedRecords(TP1, 5)
        seen: dict[str, Any] = {}

        def unreadable(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            consumer._fetcher._next_partition_records = parked
            raise RuntimeError("Libraries for lz4 compression codec not found")

        def during_the_outage(consumer: FakeConsumer) -> None:
            seen["paused during"] = consumer.paused()

        def after_the_outage(consumer: FakeConsumer) -> None:
            seen["paused after"], seen["held"], seen["gauge"] = consumer.paused(), set(thread.held), held_gauge()
            consumer.revoke(TP1)

        def after_the_revoke(consumer: FakeConsumer) -> None:
            seen["held after revoke"], seen["gauge after revoke"] = set(thread.held), held_gauge()

        thread, consumer, _ = make_thread(tmp_path, [unreadable, {TP0: records([{"n": 1}])}, {}, during_the_outage,
                                                     {}, after_the_outage, after_the_revoke],
                                          enqueuer=FakeEnqueuer(failures=2))

        def held_gauge() -> float | None:
            return thread.services.metrics.registry.get_sample_value(
                "karafkad_held_partitions", {"group": "g", "topic": "t", "partition": "1"})

        thread.run()
        assert seen == {"paused during": {TP0, TP1}, "paused after": {TP1}, "held": {TP1}, "gauge": 1,
                        "held after revoke": set(), "gauge after revoke": None}
        assert consumer.commits == [{TP0: 1}]

    def test_a_partition_assigned_during_a_wait_is_paused_and_gives_its_records_back(self, monkeypatch: Any,
                                                                                     tmp_path: Path) -> None:
        """A partition assigned while the loop waits arrives unpaused: the records its wait's poll returns are
        given back (fetched again later), and it is paused like the others until the wait ends."""
        fast_backoff(monkeypatch)
        late = records([{"n": 9}], partition=2, start=40)
        paused_then: list[set[TopicPartition]] = []

        def assigned_during_the_outage(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            consumer.assign_more(TP2)
            return {TP2: late}

        def still_waiting(consumer: FakeConsumer) -> None:
            paused_then.append(consumer.paused())

        consumer, enqueuer, _ = run_thread(tmp_path, [{TP0: records([{"n": 1}])}, {}, assigned_during_the_outage,
                                                      still_waiting, {}, {TP2: late}],
                                           enqueuer=FakeEnqueuer(failures=3))
        assert consumer.seeks == [(TP2, 40)]
        assert paused_then == [{TP0, TP1, TP2}]
        assert [[(w.partition, w.last_offset) for w in write] for write in enqueuer.writes] == [[(0, 0)], [(2, 40)]]
        assert consumer.paused() == set()

    def test_records_are_given_back_while_redis_cannot_say_what_was_handled(self, monkeypatch: Any,
                                                                            tmp_path: Path) -> None:
        """No marks, no decision: the records are fetched again once Redis answers (never decided blind); the
        wait is paused and says why."""
        monkeypatch.setattr("karafkad.defaults.BACKOFF_MAX", 0.002)
        enqueuer = FakeEnqueuer()
        marks_unreadable_once(enqueuer)
        seen: list[tuple[set[TopicPartition], str | None]] = []

        def during_the_wait(consumer: FakeConsumer) -> None:
            seen.append((consumer.paused(), thread.waiting))

        batch = records([{"n": 1}])
        thread, consumer, _ = make_thread(tmp_path, [{TP0: batch}, during_the_wait, {TP0: batch}], enqueuer=enqueuer)
        thread.run()
        assert consumer.seeks == [(TP0, 0)]
        assert seen == [({TP0, TP1}, "redis: Redis: ConnectionError: refused")]
        assert len(enqueuer.writes) == 1 and consumer.commits == [{TP0: 1}]

    def test_records_are_given_back_while_the_schema_registry_cannot_give_their_schemas(
            self, monkeypatch: Any, tmp_path: Path) -> None:
        """A framed record whose schema is not known, and a registry that refuses the connection: the records are
        fetched again once it answers, nothing is decided (so nothing dead-lettered) meanwhile; the wait is
        paused and says why; the schema is then fetched once and the record becomes a job."""
        monkeypatch.setattr("karafkad.defaults.BACKOFF_INITIAL", 0.001)
        seen: list[tuple[set[TopicPartition], str | None]] = []

        def during_the_wait(consumer: FakeConsumer) -> None:
            seen.append((consumer.paused(), thread.waiting))
            store.client = OneSchema()  # type: ignore[assignment]  # the registry is back

        batch = records([b"\x00\x00\x00\x00\x01\x0e"])  # schema id 1, the long 7
        thread, consumer, enqueuer = make_thread(
            tmp_path, [{TP0: batch}, during_the_wait, {TP0: batch}],
            routes=[{"topic": "t", "handler": "h.handle", "queue": "q", "decode": "avro", "dead_letter": "dl"}],
            sections={"schema_registry": {"url": "http://127.0.0.1:9/nobody-listens"}})
        store = thread.get_routes().schemas
        assert store is not None
        thread.run()
        assert consumer.seeks == [(TP0, 0)]
        assert seen == [({TP0, TP1}, "schema_registry: schema registry http://127.0.0.1:9/nobody-listens: "
                                     "connection refused (is the registry running there?)")]
        assert len(enqueuer.writes) == 1 and consumer.commits == [{TP0: 1}]
        assert [job.args for part in enqueuer.writes[0] for job in part.jobs] == [[{"n": 7}]]
        assert thread.waiting is None and store.outage is None

    def test_what_a_replay_wrote_advances_the_replay_s_mark(self, tmp_path: Path) -> None:
        """A replay window's batch (deciding.py) is written under the window's stream, and the thread's copy of
        that stream's mark moves with it, not the partition's own."""
        enqueuer = FakeEnqueuer(marks={("g", "t", 0): 4})
        enqueuer.windows[("t", 0)] = ReplayWindow(2, 0, 5)
        thread, consumer, _ = make_thread(tmp_path, [{TP0: records([{"n": n} for n in range(3)])}],
                                          enqueuer=enqueuer, assignment={TP0})
        thread.run()
        [write] = enqueuer.writes[0]
        assert (write.stream, [j.offset for j in write.jobs]) == ("r2", [0, 1, 2])
        assert (thread.marks.get(TP0, "r2"), thread.marks.get(TP0)) == (2, 4)
        assert consumer.commits == [{TP0: 3}]


SIZED = [{"topic": "t", "handler": "h.handle", "queue": "q", "batch": {"max_messages": 2, "max_wait": 5}}]
"""Group g's one route: a sized batch route of topic t, its partitions' records gathered two by two, for 5 s."""


class ScriptClock(Clock):
    """The gatherer's monotonic clock, moved by the test (the `clock` fixture puts it in place)."""

    def later(self, seconds: float) -> Callable[[FakeConsumer], None]:
        """A poll of the script that brings nothing, `seconds` after the one before."""
        def poll(consumer: FakeConsumer) -> None:
            self.now += seconds
        return poll


@pytest.fixture
def clock(monkeypatch: Any) -> ScriptClock:
    fake = ScriptClock()
    monkeypatch.setattr("karafkad.consuming.gathering.time", fake)
    return fake


def written(enqueuer: FakeEnqueuer) -> list[list[tuple[int, str, int, list[str]]]]:
    """Each write's parts: partition, stream, last offset, and its jobs' ids after the route's prefix."""
    return [[(w.partition, w.stream, w.last_offset, [j.job_id.split("-", 3)[-1] for j in w.jobs]) for w in write]
            for write in enqueuer.writes]


class TestOperatorPauses:
    def test_a_paused_route_stops_within_a_poll_and_resumes_where_it_stood(self, tmp_path: Path) -> None:
        """The pauses change between two polls: the next poll's records of the paused partitions are not
        returned (kafka-python's pause; the member keeps polling), nothing of them is committed; lifted, they
        are consumed from where they stood."""
        from karafkad.store.pauses import PauseTarget

        seen: dict[str, Any] = {}

        def pause(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            thread.services.pauses.update([PauseTarget("g", route="r")])
            return {TP0: records([{"n": 1}])}

        def while_paused(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            seen["paused"], seen["status"] = consumer.paused(), set(thread.operator_paused)
            return {tp: recs for tp, recs in {TP1: records([{"n": 2}], partition=1)}.items()
                    if tp not in consumer.paused()}

        def resume(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            thread.services.pauses.update([])
            return {}

        thread, consumer, enqueuer = make_thread(tmp_path, [pause, while_paused, {}, resume,
                                                            {TP1: records([{"n": 2}], partition=1)}],
                                                 routes=[{"name": "r", "topic": "t", "handler": "h.handle"}])
        thread.run()
        assert seen == {"paused": {TP0, TP1}, "status": {TP0, TP1}}
        assert [[(w.partition, w.last_offset) for w in write] for write in enqueuer.writes] == [[(0, 0)], [(1, 0)]]
        committed: dict[TopicPartition, int] = {}
        for commit in consumer.commits:
            committed.update(commit)
        assert consumer.paused() == set() and committed == {TP0: 1, TP1: 1}

    def test_a_partition_assigned_later_is_paused_as_it_comes(self, tmp_path: Path) -> None:
        """A rebalance brings a partition an operator paused: it is paused before its records are fetched."""
        from karafkad.store.pauses import PauseTarget

        seen: list[set[TopicPartition]] = []

        def assigned(consumer: FakeConsumer) -> None:
            consumer.assign_more(TP2)

        thread, _, _ = make_thread(tmp_path, [assigned, lambda c: seen.append(c.paused())])
        thread.services.pauses.update([PauseTarget("g", topic="t", partition=2)])
        thread.run()
        assert seen == [{TP2}]


class TestPollLoopGathering:
    """The loop's rules for the records gathered for a sized batch route (gathering.py)."""

    def test_a_partition_with_records_gathered_is_not_committed_at_its_position(self, clock: ScriptClock,
                                                                               tmp_path: Path) -> None:
        """Gathered records are past the partition's position but in no batch yet: the position is not
        committed while they wait (a crash would lose them), only once their batch is written."""
        commits_at_the_write: list[list[dict[TopicPartition, int]]] = []
        enqueuer = FakeEnqueuer()
        enqueuer.on_attempt = lambda _: commits_at_the_write.append(list(consumer.commits))

        def one(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            consumer._subscription.move(TP0, 1)
            return {TP0: records([{"n": 0}])}

        thread, consumer, _ = make_thread(tmp_path, [one, {}, {}, clock.later(5)], routes=SIZED,
                                          enqueuer=enqueuer)
        thread.run()
        assert commits_at_the_write == [[]]
        assert consumer.commits == [{TP0: 1}]

    def test_a_batch_with_records_gathered_behind_it_is_committed_at_its_own_end(self, clock: ScriptClock,
                                                                                tmp_path: Path) -> None:
        """A full batch that leaves records gathered is committed at its last offset + 1, not at the position
        (past the records left); the last batch, at the position (here past a transaction marker at 3)."""
        def three(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            consumer._subscription.move(TP0, 4)
            return {TP0: records([{"n": 0}, {"n": 1}, {"n": 2}])}

        consumer, enqueuer, _ = run_thread(tmp_path, [three, clock.later(5)], routes=SIZED)
        assert written(enqueuer) == [[(0, "", 1, ["0-0-1"])], [(0, "", 2, ["0-2-2"])]]
        assert consumer.commits == [{TP0: 2}, {TP0: 4}]

    def test_a_revoked_partition_s_gathered_records_are_dropped(self, clock: ScriptClock, tmp_path: Path) -> None:
        """Its new owner reads them again from the last commit: neither written nor committed here."""
        def revoke_tp0(consumer: FakeConsumer) -> None:
            consumer.revoke(TP0)

        consumer, enqueuer, _ = run_thread(tmp_path, [{TP0: records([{"n": 0}]), TP1: records([{"n": 1}], partition=1)},
                                                      revoke_tp0, clock.later(5)], routes=SIZED)
        assert written(enqueuer) == [[(1, "", 0, ["1-0-0"])]]
        assert consumer.commits == [{TP1: 1}]

    def test_a_drain_writes_and_commits_what_is_gathered(self, clock: ScriptClock, tmp_path: Path) -> None:
        """Stopping does not wait for max_wait, nor leave gathered records unwritten: they are decided, written
        and committed before the thread leaves the group."""
        consumer, enqueuer, _ = run_thread(tmp_path, [{TP0: records([{"n": 0}])}], routes=SIZED)
        assert written(enqueuer) == [[(0, "", 0, ["0-0-0"])]]
        assert consumer.commits == consumer.sync_commits == [{TP0: 1}]

    def test_a_batch_that_waited_max_wait_is_written_after_a_poll_that_brought_nothing(self, clock: ScriptClock,
                                                                                       tmp_path: Path) -> None:
        """The poll after a record is gathered waits no longer than its max_wait (250 ms here, not the usual
        500), and that poll's turn decides the batch though the poll brought nothing."""
        route = [{**SIZED[0], "batch": {"max_messages": 2, "max_wait": 0.25}}]
        gathered_then: list[set[TopicPartition]] = []

        def afterwards(consumer: FakeConsumer) -> None:
            assert thread.loop is not None
            gathered_then.append(thread.loop.gatherer.partitions())

        thread, consumer, enqueuer = make_thread(tmp_path, [{TP0: records([{"n": 0}])}, clock.later(0.25),
                                                            afterwards], routes=route)
        thread.run()
        assert consumer.timeouts[:2] == [defaults.POLL_TIMEOUT_MS, 250]
        assert gathered_then == [set()]  # decided at the empty poll's turn, before the next poll
        assert written(enqueuer) == [[(0, "", 0, ["0-0-0"])]]
        assert consumer.commits == [{TP0: 1}]

    def test_records_gathered_survive_a_failed_write_s_wait_once(self, monkeypatch: Any, clock: ScriptClock,
                                                                 tmp_path: Path) -> None:
        """While a full batch's write fails and is retried (every partition paused), the record gathered behind
        it stays gathered; afterwards it joins the next batch: each record in one job, none lost."""
        fast_backoff(monkeypatch)
        gathered_during: list[set[TopicPartition]] = []

        def during_the_outage(consumer: FakeConsumer) -> None:
            assert thread.loop is not None
            gathered_during.append(thread.loop.gatherer.partitions())

        thread, consumer, enqueuer = make_thread(
            tmp_path, [{TP0: records([{"n": 0}, {"n": 1}, {"n": 2}])}, {}, during_the_outage, {},
                       {TP0: records([{"n": 3}], start=3)}], routes=SIZED, enqueuer=FakeEnqueuer(failures=2))
        thread.run()
        assert gathered_during == [{TP0}]
        assert written(enqueuer) == [[(0, "", 1, ["0-0-1"])], [(0, "", 3, ["0-2-3"])]]
        assert consumer.commits == [{TP0: 2}, {TP0: 4}]

    def test_records_gathered_survive_a_full_queue_s_wait(self, clock: ScriptClock, tmp_path: Path) -> None:
        """Above the high watermark the loop waits paused; what was gathered is kept, and its batch goes once the
        queue drained and max_wait passed."""
        enqueuer = FakeEnqueuer()
        enqueuer.lengths["q"] = 500
        gate = QueueGate(enqueuer.queue_lengths, ("q",), high=100, low=10, interval=0.0)
        gathered_while_full: list[set[TopicPartition]] = []

        def drain_queue(consumer: FakeConsumer) -> None:
            assert thread.loop is not None
            gathered_while_full.append(thread.loop.gatherer.partitions())
            enqueuer.lengths["q"] = 5
            clock.now += 5

        thread, consumer, _ = make_thread(tmp_path, [{TP0: records([{"n": 0}])}, drain_queue, {}], routes=SIZED,
                                          enqueuer=enqueuer, gate=gate)
        thread.run()
        assert gathered_while_full == [{TP0}]
        assert written(enqueuer) == [[(0, "", 0, ["0-0-0"])]]
        assert consumer.commits == [{TP0: 1}]

    def test_a_replay_window_splits_what_was_gathered(self, clock: ScriptClock, tmp_path: Path) -> None:
        """Records gathered over two polls are decided together: those in the partition's replay window (0..4)
        under the window's stream and id suffix, the rest under the partition's own mark (4: 5 and 6 are new)."""
        enqueuer = FakeEnqueuer(marks={("g", "t", 0): 4})
        enqueuer.windows[("t", 0)] = ReplayWindow(2, 0, 5)
        route = [{**SIZED[0], "batch": {"max_messages": 7, "max_wait": 5}}]
        consumer, _, _ = run_thread(tmp_path, [{TP0: records([{"n": n} for n in range(3)])},
                                               {TP0: records([{"n": n} for n in range(3, 7)], start=3)}],
                                    routes=route, enqueuer=enqueuer, assignment={TP0})
        assert written(enqueuer) == [[(0, "r2", 4, ["0-0-4-r2"]), (0, "", 6, ["0-5-6"])]]
        assert consumer.commits == [{TP0: 7}]

    def test_records_given_back_take_what_was_gathered_behind_them(self, monkeypatch: Any, clock: ScriptClock,
                                                                   tmp_path: Path) -> None:
        """When Redis cannot say what was handled, a batch is given back to Kafka (a seek to its first offset):
        the records gathered behind it are fetched again too, so they are dropped here, not gathered twice."""
        monkeypatch.setattr("karafkad.defaults.BACKOFF_MAX", 0.002)
        enqueuer = FakeEnqueuer()
        marks_unreadable_once(enqueuer)
        polled = records([{"n": 0}, {"n": 1}, {"n": 2}])
        consumer, _, _ = run_thread(tmp_path, [{TP0: polled}, {}, {TP0: polled}, clock.later(5)], routes=SIZED,
                                    enqueuer=enqueuer)
        assert consumer.seeks == [(TP0, 0)]
        assert written(enqueuer) == [[(0, "", 1, ["0-0-1"])], [(0, "", 2, ["0-2-2"])]]
