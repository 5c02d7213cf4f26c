"""consuming/pausing.py: every partition paused while the consumer waits (and why), one held for good at a batch
it cannot read; the gauges and the status page's lines that follow."""

from __future__ import annotations

import threading

from kafka import TopicPartition
from kafka_fakes import FakeConsumer
from loop_fakes import TP0, TP1

from karafkad.clients.kafka.workarounds.fetch_state import BadBatch
from karafkad.consuming.pausing import Pauser
from karafkad.errors import EnqueueError
from karafkad.observability import Metrics, get_logger


def _pauser() -> tuple[Pauser, FakeConsumer, Metrics]:
    consumer, metrics = FakeConsumer([], threading.Event(), {TP0, TP1}), Metrics()
    return Pauser(consumer, "g", 3, metrics, get_logger("test")), consumer, metrics  # type: ignore[arg-type]


def _paused_gauge(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("karafkad_paused_partitions", {"group": "g", "thread": "3"})


def _held_gauge(metrics: Metrics, tp: TopicPartition) -> float | None:
    return metrics.registry.get_sample_value("karafkad_held_partitions",
                                             {"group": "g", "topic": tp.topic, "partition": str(tp.partition)})


def _bad(tp: TopicPartition) -> BadBatch:
    return BadBatch(tp, 5, "RuntimeError: Libraries for lz4 compression codec not found")


class TestPauser:
    def test_pause_all_pauses_every_assigned_partition_and_resume_all_undoes_it(self) -> None:
        """The gauge counts the paused partitions of this consumer thread."""
        pauser, consumer, metrics = _pauser()
        pauser.pause_all()
        assert consumer.paused() == {TP0, TP1} and pauser.paused and _paused_gauge(metrics) == 2
        pauser.resume_all()
        assert consumer.paused() == set() and not pauser.paused and _paused_gauge(metrics) == 0

    def test_a_pause_for_a_reason_says_why_until_every_partition_resumes(self) -> None:
        """pause_for warns, counts the backpressure reason and lists the problem once; the status line follows
        the latest cause (still_paused_for) and is cleared by resume_all."""
        pauser, consumer, metrics = _pauser()
        pauser.pause_for("redis", EnqueueError("Redis: refused"), "cannot deliver; pausing partitions and retrying")
        assert consumer.paused() == {TP0, TP1} and pauser.waiting == "redis: Redis: refused"
        pauser.still_paused_for("replicas", EnqueueError("0 of 1 replicas"))
        assert pauser.waiting == "replicas: 0 of 1 replicas"
        assert metrics.backpressure.labels("g", "redis")._value.get() == 1
        assert metrics.backpressure.labels("g", "replicas")._value.get() == 0
        assert [(p["kind"], p["message"]) for p in metrics.recent.snapshot()] == [("redis", "Redis: refused")]
        pauser.resume_all()
        assert pauser.waiting is None and consumer.paused() == set()

    def test_a_held_partition_stays_paused_when_the_others_resume(self) -> None:
        """A partition held at a batch it cannot read is not resumed by resume_all; the paused gauge counts it,
        and its own held gauge is 1."""
        pauser, consumer, metrics = _pauser()
        pauser.hold(_bad(TP1))
        assert consumer.paused() == {TP1} and _paused_gauge(metrics) == 1 and _held_gauge(metrics, TP1) == 1
        pauser.pause_all()
        assert _paused_gauge(metrics) == 2
        pauser.hold(_bad(TP0))  # while everything waits, the gauge already counts every partition
        assert _paused_gauge(metrics) == 2
        pauser.resume_all()
        assert consumer.paused() == {TP0, TP1} and set(pauser.held) == {TP0, TP1}

    def test_a_revoked_or_closed_partition_is_no_longer_held(self) -> None:
        """release forgets the revoked partitions it holds (and their gauges), ignoring the others; release_all
        forgets every one (the consumer closed)."""
        pauser, _, metrics = _pauser()
        pauser.hold(_bad(TP0))
        pauser.hold(_bad(TP1))
        assert pauser.held[TP0].offset == 5
        pauser.release({TP0, TopicPartition("t", 9)})
        assert set(pauser.held) == {TP1} and _held_gauge(metrics, TP0) is None and _held_gauge(metrics, TP1) == 1
        pauser.release_all()
        assert pauser.held == {} and _held_gauge(metrics, TP1) is None

    def test_an_operator_pause_holds_until_lifted_whatever_else_resumes(self) -> None:
        """obey pauses what an operator paused; a wait's resume_all leaves it paused; lifting it resumes it (not
        while a wait is on: then resume_all does); the gauge counts it."""
        pauser, consumer, metrics = _pauser()
        pauser.obey({TP1})
        assert consumer.paused() == {TP1} and _paused_gauge(metrics) == 1
        pauser.pause_all()
        pauser.resume_all()
        assert consumer.paused() == {TP1}
        pauser.pause_all()
        pauser.obey(set())
        assert consumer.paused() == {TP0, TP1}  # the wait goes on
        pauser.resume_all()
        assert consumer.paused() == set() and _paused_gauge(metrics) == 0

    def test_a_held_partition_stays_held_when_its_operator_pause_is_lifted(self) -> None:
        """A held partition stays held when its operator pause is lifted."""
        pauser, consumer, _ = _pauser()
        pauser.hold(_bad(TP1))
        pauser.obey({TP1})
        pauser.obey(set())
        assert consumer.paused() == {TP1}

    def test_a_revoked_partition_is_no_longer_paused_here(self) -> None:
        """Its new owner pauses it itself; a closed consumer forgets every pause (the next one obeys afresh)."""
        pauser, _, _ = _pauser()
        pauser.obey({TP0, TP1})
        pauser.release({TP1})
        assert pauser.operator == {TP0}
        pauser.release_all()
        assert pauser.operator == frozenset()
