"""consuming/consumer.py and the units it drives (delivery, pausing, membership, marks, accounting):
commit discipline, backpressure and rebalance handling, with a fake Kafka client.

The fakes stand in for kafka-python and Redis only; the pipeline and the
route table are the real ones.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import TopicPartition
from tables import make_table, records

from karafkad.clients.kafka.consumers import heartbeat_interval_ms
from karafkad.config.settings import DaemonSettings, KafkaSettings
from karafkad.consuming.backpressure import QueueGate
from karafkad.consuming.consumer import ConsumerThread
from karafkad.consuming.services import Services
from karafkad.errors import DeadLetterError, EnqueueError, ReplicasBehind
from karafkad.observability import Metrics
from karafkad.store.enqueuer import PartitionWrite, WriteResult
from karafkad.store.marks import PartitionMarks
from karafkad.store.replays import ReplayWindow

TP0 = TopicPartition("t", 0)
TP1 = TopicPartition("t", 1)


@dataclass
class _Position:
    offset: int


@dataclass
class _PartitionState:
    position: _Position | None = None


class _Subscription:
    """kafka-python's SubscriptionState: assignment[tp].position.offset."""

    def __init__(self) -> None:
        self.assignment: dict[TopicPartition, _PartitionState] = {}

    def move(self, tp: TopicPartition, offset: int) -> None:
        self.assignment[tp] = _PartitionState(_Position(offset))


class _ParkedRecords:
    """kafka-python's PartitionRecords left parked after a batch could not be read."""

    def __init__(self, tp: TopicPartition, offset: int) -> None:
        self.topic_partition = tp
        self.next_fetch_offset = offset
        self.drained = False

    def __bool__(self) -> bool:
        return not self.drained

    def drain(self) -> None:
        self.drained = True


class _Fetcher:
    def __init__(self) -> None:
        self._next_partition_records: _ParkedRecords | None = None


class FakeConsumer:
    """Plays back a script of poll results; runs `on_poll` hooks to simulate rebalances."""

    def __init__(self, script: list[Any], stop: threading.Event, assignment: set[TopicPartition]) -> None:
        self.script = list(script)
        self.stop = stop
        self._assignment = set(assignment)
        self._paused: set[TopicPartition] = set()
        self.commits: list[dict[TopicPartition, int]] = []
        self.async_commits: list[dict[TopicPartition, int]] = []
        self.sync_commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.listener: Any = None
        self.polls = 0
        self.closed = False
        self._subscription = _Subscription()
        """kafka-python's positions, which the thread reads after each poll (a test sets them)."""
        self._fetcher = _Fetcher()

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[TopicPartition, list[Any]]:
        self.polls += 1
        if self.polls == 1:
            self.listener.on_partitions_assigned(set(self._assignment))
        if not self.script:
            self.stop.set()
            return {}
        step = self.script.pop(0)
        if callable(step):
            return step(self) or {}
        return {tp: recs for tp, recs in step.items() if tp not in self._paused}

    def assignment(self) -> set[TopicPartition]:
        return set(self._assignment)

    def revoke(self, *tps: TopicPartition) -> None:
        self.listener.on_partitions_revoked(set(tps))
        self._assignment -= set(tps)
        self._paused -= set(tps)

    def pause(self, *tps: TopicPartition) -> None:
        self._paused |= set(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._paused -= set(tps)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def commit(self, offsets: dict[TopicPartition, Any], timeout_ms: int | None = None) -> None:
        """A blocking commit (on close): recorded in `commits` and `sync_commits`."""
        self.commits.append({tp: m.offset for tp, m in offsets.items()})
        self.sync_commits.append({tp: m.offset for tp, m in offsets.items()})

    def commit_async(self, offsets: dict[TopicPartition, Any], callback: Any = None) -> None:
        """An asynchronous commit, answered at once: recorded in `commits` and `async_commits`."""
        self.commits.append({tp: m.offset for tp, m in offsets.items()})
        self.async_commits.append({tp: m.offset for tp, m in offsets.items()})
        if callback is not None:
            callback(offsets, "OffsetCommitResponse")

    def highwater(self, tp: TopicPartition) -> int:
        return 100

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    def close(self, autocommit: bool = True, timeout_ms: int | None = None) -> None:
        self.closed = True


class FakeEnqueuer:
    """Records writes; fails the first `failures` of them. Also reads the marks (Services.marks) and the queue
    lengths (QueueGate's)."""

    def __init__(self, failures: int = 0, marks: dict[Any, int] | None = None,
                 error: EnqueueError | None = None) -> None:
        self.failures = failures
        self.error = error or EnqueueError("Redis: ConnectionError: refused")
        self.writes: list[list[PartitionWrite]] = []
        self.attempts = 0
        self.known_marks = marks or {}
        self.on_attempt: Callable[[int], None] | None = None
        self.lengths: dict[str, int] = {}
        self.windows: dict[tuple[str, int], ReplayWindow] = {}

    def write(self, partitions: Any) -> WriteResult:
        parts = list(partitions)
        self.attempts += 1
        if self.on_attempt:
            self.on_attempt(self.attempts)
        if self.attempts <= self.failures:
            raise self.error
        self.writes.append(parts)
        return WriteResult(sum(len(p.jobs) for p in parts), (), 0.001)

    def read(self, group: str, partitions: Any) -> dict[tuple[str, int], PartitionMarks]:
        """(topic, partition) -> its marks and window; `known_marks` has the group's own mark by (group, topic,
        partition), and a replay's by (group, topic, partition, stream)."""
        read = {}
        for topic, partition in partitions:
            window = self.windows.get((topic, partition))
            stream_mark = self.known_marks.get((group, topic, partition, window.stream), -1) if window else -1
            read[(topic, partition)] = PartitionMarks(self.known_marks.get((group, topic, partition), -1), window,
                                                      stream_mark)
        return read

    def queue_lengths(self, queues: Any) -> dict[str, int]:
        return {q: self.lengths.get(q, 0) for q in queues}


class FakeSender:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[Any] = []
        self.calls = 0

    def send(self, letters: Any) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise DeadLetterError("dead-letter topic refused a message")
        self.sent.extend(letters)


def _run(tmp_path: Path, script: list[Any], *, enqueuer: FakeEnqueuer | None = None, sender: FakeSender | None = None,
         route: dict[str, Any] | None = None, deadline: float | None = None, gate: QueueGate | None = None,
         assignment: set[TopicPartition] | None = None) -> tuple[FakeConsumer, FakeEnqueuer, ConsumerThread]:
    table = make_table(tmp_path, {"g": {"routes": [route or {"topic": "t", "handler": "h.handle", "queue": "q"}]}})
    group = table.groups["g"]
    stop = threading.Event()
    enqueuer = enqueuer or FakeEnqueuer()
    consumer = FakeConsumer(script, stop, assignment or {TP0, TP1})
    services = Services(KafkaSettings(), DaemonSettings(), enqueuer, sender or FakeSender(),  # type: ignore[arg-type]
                        Metrics(), lambda *_: consumer, gate, marks=enqueuer)  # type: ignore[arg-type]
    thread = ConsumerThread(group.spec, 0, lambda: group, services, stop)
    thread.drain_deadline = deadline
    thread.run()  # in this thread: the fake script ends by setting stop
    return consumer, enqueuer, thread


def _fast_backoff(monkeypatch: Any) -> None:
    monkeypatch.setattr("karafkad.defaults.BACKOFF_INITIAL", 0.001)
    monkeypatch.setattr("karafkad.defaults.BACKOFF_MAX", 0.002)


class TestConsumerThread:
    def test_offsets_are_committed_after_the_write(self, tmp_path: Path) -> None:
        """A batch is written, then its next offsets are committed, per partition."""
        consumer, enqueuer, _ = _run(tmp_path, [{TP0: records([{"n": 1}, {"n": 2}]),
                                                 TP1: records([{"n": 3}], partition=1, start=5)}])
        assert len(enqueuer.writes) == 1
        assert {(w.partition, w.last_offset, len(w.jobs)) for w in enqueuer.writes[0]} == {(0, 1, 2), (1, 5, 1)}
        assert consumer.commits == [{TP0: 2, TP1: 6}]
        assert consumer.sync_commits == []  # asynchronous: the thread does not wait for the broker
        assert consumer.closed

    def test_nothing_is_committed_while_redis_fails_and_partitions_pause(self, monkeypatch: Any,
                                                                         tmp_path: Path) -> None:
        """Failed writes pause every partition and keep polling; after success it resumes and commits once."""
        _fast_backoff(monkeypatch)
        enqueuer = FakeEnqueuer(failures=3)
        seen: list[tuple[int, set[TopicPartition]]] = []
        enqueuer.on_attempt = lambda n: seen.append((len(consumer_box[0].commits), consumer_box[0].paused()))
        consumer_box: list[FakeConsumer] = []
        original = FakeConsumer.__init__

        def capture(self: FakeConsumer, *args: Any) -> None:
            original(self, *args)
            consumer_box.append(self)

        monkeypatch.setattr(FakeConsumer, "__init__", capture)
        consumer, enqueuer, _ = _run(tmp_path, [{TP0: records([{"n": 1}])}], enqueuer=enqueuer)
        assert enqueuer.attempts == 4
        assert [commits for commits, _ in seen] == [0, 0, 0, 0]
        assert seen[1][1] == {TP0, TP1}  # paused from the second attempt on
        assert consumer.commits == [{TP0: 1}]
        assert consumer.paused() == set()
        assert consumer.polls >= 4  # kept polling (heartbeats, group membership) while paused

    def test_replicas_behind_pause_the_thread_and_it_says_why_until_they_catch_up(self, monkeypatch: Any,
                                                                                 tmp_path: Path) -> None:
        """A write fewer replicas acknowledged than required is retried, paused, uncommitted; meanwhile the
        thread's `waiting` (the status page) names the replicas, and the backpressure reason is 'replicas'."""
        _fast_backoff(monkeypatch)
        behind = ReplicasBehind("Redis: 0 of 1 replicas acknowledged the batch within 1000 ms")
        enqueuer = FakeEnqueuer(failures=2, error=behind)
        waiting: list[str | None] = []
        box: list[ConsumerThread] = []
        enqueuer.on_attempt = lambda n: waiting.append(box[0].line.waiting if box and box[0].line else None)
        original = ConsumerThread.__init__

        def capture(self: ConsumerThread, *args: Any) -> None:
            original(self, *args)
            box.append(self)

        monkeypatch.setattr(ConsumerThread, "__init__", capture)
        consumer, _, thread = _run(tmp_path, [{TP0: records([{"n": 1}])}], enqueuer=enqueuer)
        assert waiting == [None, f"replicas: {behind}", f"replicas: {behind}"]
        assert thread.line is not None and thread.line.waiting is None  # written at last: no longer waiting
        assert consumer.commits == [{TP0: 1}]
        assert thread.services.metrics.backpressure.labels("g", "replicas")._value.get() == 1

    def test_a_partition_revoked_during_an_outage_is_dropped_not_committed(self, monkeypatch: Any,
                                                                           tmp_path: Path) -> None:
        """If a partition is revoked while its batch waits for Redis, the batch is dropped (the new owner redoes it)."""
        _fast_backoff(monkeypatch)
        enqueuer = FakeEnqueuer(failures=2)

        def revoke_tp0(consumer: FakeConsumer) -> None:
            consumer.revoke(TP0)

        consumer, enqueuer, _ = _run(
            tmp_path, [{TP0: records([{"n": 1}]), TP1: records([{"n": 2}], partition=1)}, revoke_tp0],
            enqueuer=enqueuer)
        written = [(w.partition, w.last_offset) for w in enqueuer.writes[0]]
        assert written == [(1, 0)]
        assert consumer.commits == [{TP1: 1}]

    def test_a_partition_revoked_while_its_write_is_in_flight_is_not_committed(self, tmp_path: Path) -> None:
        """A rebalance during the write (the next poll) drops the revoked partition from the commit."""
        enqueuer = FakeEnqueuer()

        def revoke_tp0(consumer: FakeConsumer) -> None:
            consumer.revoke(TP0)

        consumer, enqueuer, _ = _run(
            tmp_path, [{TP0: records([{"n": 1}]), TP1: records([{"n": 2}], partition=1)}, revoke_tp0],
            enqueuer=enqueuer)
        assert {w.partition for w in enqueuer.writes[0]} == {0, 1}  # written before the revoke was known
        assert consumer.commits == [{TP1: 1}]

    def test_a_drain_deadline_during_an_outage_gives_the_batch_up_uncommitted(self, tmp_path: Path) -> None:
        """Past the drain deadline a batch that cannot be written is abandoned: no commit, thread marked."""
        consumer, _, thread = _run(tmp_path, [{TP0: records([{"n": 1}])}], enqueuer=FakeEnqueuer(failures=99),
                                   deadline=0.0)
        assert consumer.commits == []
        assert thread.abandoned

    def test_dead_letters_are_sent_once_before_the_write(self, monkeypatch: Any, tmp_path: Path) -> None:
        """Dead letters go out before the Redis write; a retried write does not send them again."""
        _fast_backoff(monkeypatch)
        sender = FakeSender()
        enqueuer = FakeEnqueuer(failures=1)
        route = {"topic": "t", "handler": "h.handle", "dead_letter": "d"}
        consumer, _, _ = _run(tmp_path, [{TP0: records([b"junk", {"n": 1}])}], sender=sender, enqueuer=enqueuer,
                              route=route)
        assert len(sender.sent) == 1 and sender.calls == 1
        assert consumer.commits == [{TP0: 2}]

    def test_a_failing_dead_letter_topic_is_backpressure_too(self, monkeypatch: Any, tmp_path: Path) -> None:
        """When the dead-letter topic refuses, nothing is written or committed until it accepts."""
        _fast_backoff(monkeypatch)
        sender = FakeSender(failures=2)
        enqueuer = FakeEnqueuer()
        route = {"topic": "t", "handler": "h.handle", "dead_letter": "d"}
        consumer, enqueuer, _ = _run(tmp_path, [{TP0: records([b"junk"])}], sender=sender, enqueuer=enqueuer,
                                     route=route)
        assert sender.calls == 3
        assert len(enqueuer.writes) == 1 and enqueuer.attempts == 1
        assert consumer.commits == [{TP0: 1}]

    def test_marks_from_redis_skip_already_handled_records(self, tmp_path: Path) -> None:
        """Records at or below the partition's Redis mark (handled before a crash) make no job."""
        enqueuer = FakeEnqueuer(marks={("g", "t", 0): 1})
        consumer, enqueuer, _ = _run(tmp_path, [{TP0: records([{"n": 0}, {"n": 1}, {"n": 2}])}], enqueuer=enqueuer)
        assert [j.offset for j in enqueuer.writes[0][0].jobs] == [2]
        assert consumer.commits == [{TP0: 3}]

    def test_uncommitted_offsets_are_committed_async_on_revoke(self, tmp_path: Path) -> None:
        """Written-but-uncommitted offsets of a revoked partition are committed without blocking the I/O thread."""
        consumer, _, thread = _run(tmp_path, [])
        thread.offsets.record({TP0: 5})
        thread.membership.consumer = consumer  # type: ignore[assignment]
        thread.membership.note_revoked({TP0}, can_commit=True)
        assert consumer.async_commits == [{TP0: 5}]

    def test_a_full_queue_pauses_until_it_drains(self, monkeypatch: Any, tmp_path: Path) -> None:
        """Above the high watermark the thread pauses; below the low one it resumes."""
        enqueuer = FakeEnqueuer()
        enqueuer.lengths["q"] = 500
        gate = QueueGate(enqueuer.queue_lengths, ("q",), high=100, low=10, interval=0.0)
        paused_while_full: list[set[TopicPartition]] = []

        def drain_queue(consumer: FakeConsumer) -> None:
            paused_while_full.append(consumer.paused())
            enqueuer.lengths["q"] = 5

        consumer, _, _ = _run(tmp_path, [{TP0: records([{"n": 1}])}, drain_queue, {}], enqueuer=enqueuer, gate=gate)
        assert paused_while_full == [{TP0, TP1}]
        assert consumer.paused() == set()


class TestWritesInFlight:
    def test_the_next_batch_is_written_while_the_one_before_is_still_in_flight(self, tmp_path: Path) -> None:
        """A slow write does not stop the thread from polling, deciding and submitting the next batch: two
        writes in flight, a later part guarded by the earlier batch of its partition, committed in order."""
        release = threading.Event()
        enqueuer = FakeEnqueuer()
        enqueuer.on_attempt = lambda n: release.wait(10) if n == 1 else None
        box: list[ConsumerThread] = []
        in_flight: list[int] = []

        def second(consumer: FakeConsumer) -> dict[TopicPartition, list[Any]]:
            return {TP0: records([{"n": 2}], start=1)}

        def third(consumer: FakeConsumer) -> None:
            line = box[0].line
            assert line is not None
            in_flight.append(line.in_flight())
            release.set()

        original = ConsumerThread.__init__

        def capture(self: ConsumerThread, *args: Any) -> None:
            original(self, *args)
            box.append(self)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ConsumerThread, "__init__", capture)
            consumer, enqueuer, _ = _run(tmp_path, [{TP0: records([{"n": 1}])}, second, third], enqueuer=enqueuer)
        assert in_flight == [2]
        assert [[(w.partition, w.last_offset, w.after) for w in write] for write in enqueuer.writes] == [
            [(0, 0, -1)], [(0, 1, 0)]]
        assert consumer.commits[-1] == {TP0: 2}


class TestSkipLog:
    def test_a_burst_then_silence_then_a_summary(self) -> None:
        """Up to `burst` lines per route per window; the rest are counted and summarised when the window ends."""
        from karafkad.observability import SkipLog

        now = [0.0]
        log = SkipLog(burst=2, window=10, clock=lambda: now[0])
        assert [log.allow("r") for _ in range(5)] == [True, True, False, False, False]
        assert log.allow("other")
        assert log.summaries() == []
        now[0] = 10.0
        assert log.summaries() == [("r", 3)]
        assert log.allow("r")


class TestHeartbeat:
    """A member learns of a rebalance at its next heartbeat: at most a second by default."""

    def spec(self, tmp_path: Path, **group: Any) -> Any:
        table = make_table(tmp_path, {"g": {**group, "routes": [{"topic": "t", "handler": "h.handle"}]}})
        return table.groups["g"].spec

    def test_a_third_of_the_session_timeout_at_most_a_second(self, tmp_path: Path) -> None:
        assert heartbeat_interval_ms(self.spec(tmp_path, session_timeout_ms=10_000)) == 1000
        assert heartbeat_interval_ms(self.spec(tmp_path, session_timeout_ms=45_000)) == 1000
        assert heartbeat_interval_ms(self.spec(tmp_path, session_timeout_ms=1_500)) == 500

    def test_an_explicit_interval_is_kept(self, tmp_path: Path) -> None:
        spec = self.spec(tmp_path, session_timeout_ms=30_000, heartbeat_interval_ms=5_000)
        assert heartbeat_interval_ms(spec) == 5000


class TestPositions:
    def test_a_batch_is_committed_at_the_position_past_a_transaction_marker(self, tmp_path: Path) -> None:
        """read_committed: the poll went past the commit marker at 3, so 4 is committed, not last record + 1."""
        def poll(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            consumer._subscription.move(TP0, 4)
            return {TP0: records([{"n": 0}, {"n": 1}, {"n": 2}])}

        consumer, enqueuer, _ = _run(tmp_path, [poll])
        assert enqueuer.writes[0][0].last_offset == 2  # the mark is the last record: dedupe is by record
        assert consumer.commits == [{TP0: 4}]

    def test_a_partition_that_moves_without_records_is_committed_where_it_stands(self, tmp_path: Path) -> None:
        """A commit marker arriving on its own moves the position but returns nothing: lag still reaches 0."""
        def poll(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            consumer._subscription.move(TP1, 7)
            return {}

        consumer, enqueuer, _ = _run(tmp_path, [poll])
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

        consumer, _, _ = _run(tmp_path, [poll], enqueuer=enqueuer)
        assert commits_during_write == [[]]
        assert consumer.commits == [{TP0: 2}]


    def test_a_batch_given_up_at_the_drain_deadline_is_not_committed_at_the_position(self, tmp_path: Path) -> None:
        """The position is past the batch, but the batch is not in Redis: neither it nor the position is committed."""
        def poll(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            consumer._subscription.move(TP0, 1)
            return {TP0: records([{"n": 1}])}

        consumer, _, thread = _run(tmp_path, [poll, {}, {}], enqueuer=FakeEnqueuer(failures=99), deadline=0.0)
        assert thread.abandoned
        assert consumer.commits == []


class TestUnreadableBatches:
    def test_a_batch_the_client_cannot_read_holds_only_its_partition(self, tmp_path: Path) -> None:
        """The error names no partition; the parked records do: drained (no spin), paused, held, counted."""
        parked = _ParkedRecords(TP1, 5)

        def unreadable(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            consumer._fetcher._next_partition_records = parked
            raise RuntimeError("Libraries for lz4 compression codec not found")

        consumer, enqueuer, thread = _run(tmp_path, [unreadable, {TP0: records([{"n": 1}])}])
        assert parked.drained
        assert TP1 in consumer.paused() and TP0 not in consumer.paused()
        assert [w.partition for w in enqueuer.writes[0]] == [0]  # the other partition went on
        metrics = thread.services.metrics
        assert metrics.unreadable.labels("g", "t")._value.get() == 1
        assert "lz4" in metrics.recent.snapshot()[0]["message"]

    def test_an_error_that_is_not_about_a_batch_replaces_the_client(self, monkeypatch: Any, tmp_path: Path) -> None:
        """Nothing parked: the consumer is closed and a new one made (the thread does not die)."""
        _fast_backoff(monkeypatch)
        made: list[FakeConsumer] = []

        def broken(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            raise RuntimeError("connection reset")

        table = make_table(tmp_path, {"g": {"routes": [{"topic": "t", "handler": "h.handle", "queue": "q"}]}})
        group = table.groups["g"]
        stop = threading.Event()

        def factory(*_: Any) -> FakeConsumer:
            made.append(FakeConsumer([broken] if not made else [], stop, {TP0}))
            return made[-1]

        services = Services(KafkaSettings(), DaemonSettings(), FakeEnqueuer(), FakeSender(),  # type: ignore[arg-type]
                            Metrics(), factory, marks=FakeEnqueuer())  # type: ignore[arg-type]
        ConsumerThread(group.spec, 0, lambda: group, services, stop).run()
        assert len(made) == 2 and made[0].closed


class TestStaticMembership:
    def test_a_fenced_member_stops_for_good_and_says_why(self, tmp_path: Path) -> None:
        """kafka-python only logs the fencing; the thread notices, closes its consumer and gives the reason."""
        from karafkad.clients.kafka.workarounds.fencing import fencing

        table = make_table(tmp_path, {"g": {"instance_id": "host-a", "routes": [
            {"topic": "t", "handler": "h.handle", "queue": "q"}]}})
        group = table.groups["g"]
        stop = threading.Event()
        consumer = FakeConsumer([{}] * 1000, stop, {TP0})

        def fenced_heartbeat(c: FakeConsumer) -> dict[TopicPartition, Any]:
            fencing.filter(logging.LogRecord("kafka.coordinator.heartbeat", logging.ERROR, "", 0,
                                             "Heartbeat thread caught fenced group_instance_id %s error",
                                             ("host-a-0",), None))
            return {}

        consumer.script.insert(0, fenced_heartbeat)
        services = Services(KafkaSettings(), DaemonSettings(), FakeEnqueuer(), FakeSender(),  # type: ignore[arg-type]
                            Metrics(), lambda *_: consumer, marks=FakeEnqueuer())  # type: ignore[arg-type]
        thread = ConsumerThread(group.spec, 0, lambda: group, services, stop)
        thread.run()
        assert thread.fatal is not None and "'host-a-0'" in thread.fatal
        assert consumer.closed and consumer.polls < 5  # stopped at once, not after the script ran out


class TestReplayWindows:
    def test_records_inside_a_replay_window_are_run_again_under_its_ids_and_mark(self, tmp_path: Path) -> None:
        """Window [0, 2) for route b only: offsets 0-1 make b's jobs ending -r7 under mark r7; offset 2 and on go
        through every route as usual, under the partition's own mark."""
        enqueuer = FakeEnqueuer(marks={("g", "t", 0): 1})  # the first run had handled 0 and 1
        enqueuer.windows[("t", 0)] = ReplayWindow(7, 0, 2, ("b",))
        routes = [{"name": "a", "topic": "t", "handler": "h.handle", "queue": "q"},
                  {"name": "b", "topic": "t", "handler": "h.handle", "queue": "q"}]
        table = make_table(tmp_path, {"g": {"routes": routes}})
        group = table.groups["g"]
        stop = threading.Event()
        consumer = FakeConsumer([{TP0: records([{"n": 0}, {"n": 1}, {"n": 2}])}], stop, {TP0})
        services = Services(KafkaSettings(), DaemonSettings(), enqueuer, FakeSender(),  # type: ignore[arg-type]
                            Metrics(), lambda *_: consumer, marks=enqueuer)  # type: ignore[arg-type]
        ConsumerThread(group.spec, 0, lambda: group, services, stop).run()
        replayed, rest = enqueuer.writes[0]
        assert (replayed.stream, rest.stream) == ("r7", "")
        assert [(j.route, j.offset, j.job_id.endswith("-r7")) for j in replayed.jobs] == [("b", 0, True),
                                                                                         ("b", 1, True)]
        assert sorted((j.route, j.offset) for j in rest.jobs) == [("a", 2), ("b", 2)]
        assert consumer.commits == [{TP0: 3}]

    def test_a_replay_resumes_above_its_own_mark_after_a_crash(self, tmp_path: Path) -> None:
        """The window's mark says how far the replay got: what is at or below it is not enqueued again."""
        enqueuer = FakeEnqueuer(marks={("g", "t", 0): 4, ("g", "t", 0, "r2"): 1})
        enqueuer.windows[("t", 0)] = ReplayWindow(2, 0, 5)
        _, enqueuer, _ = _run(tmp_path, [{TP0: records([{"n": n} for n in range(5)])}], enqueuer=enqueuer)
        [write] = enqueuer.writes[0]
        assert write.stream == "r2" and [j.offset for j in write.jobs] == [2, 3, 4]

    def test_records_are_given_back_while_redis_cannot_say_what_was_handled(self, monkeypatch: Any,
                                                                            tmp_path: Path) -> None:
        """No marks, no decision: the records are fetched again once Redis answers (never decided blind)."""
        monkeypatch.setattr("karafkad.defaults.BACKOFF_MAX", 0.002)
        enqueuer = FakeEnqueuer()
        failing = [True]
        original = enqueuer.read

        def flaky(group: str, partitions: Any) -> Any:
            if failing:
                failing.pop()
                raise EnqueueError("Redis: ConnectionError: refused")
            return original(group, partitions)

        enqueuer.read = flaky  # type: ignore[method-assign]
        batch = records([{"n": 1}])
        consumer, enqueuer, _ = _run(tmp_path, [{TP0: batch}, {}, {TP0: batch}], enqueuer=enqueuer)
        assert consumer.seeks == [(TP0, 0)]
        assert len(enqueuer.writes) == 1 and consumer.commits == [{TP0: 1}]
