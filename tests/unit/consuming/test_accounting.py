"""consuming/accounting.py: what a written batch adds to the metrics, the status page's recent problems and the
queue gate's estimate, from real pipeline outcomes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loop_fakes import TP0, TP1, FakeEnqueuer
from tables import make_table, records

from karafkad.consuming.accounting import Accountant
from karafkad.consuming.backpressure import QueueGate
from karafkad.observability import Metrics, get_logger
from karafkad.pipeline.steps import Pipeline
from karafkad.store.enqueuer import WriteResult

ROUTES = [{"name": "a", "topic": "t", "handler": "h.handle", "queue": "q", "dead_letter": "d",
           "on_error": "dead_letter"},
          {"name": "b", "topic": "t", "handler": "h.handle", "queue": "q2", "filter": "params.n > 1"}]


def _sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"group": "g", **labels})


class TestAccountant:
    def test_a_written_batch_is_counted_per_route_queue_and_reason(self, tmp_path: Path) -> None:
        """Consumed messages, jobs per route and queue (told to the queue gate too), dead letters per route and
        kind, skips per route and reason, the write's time; bad input is listed as a recent problem."""
        pipeline = Pipeline(make_table(tmp_path, {"g": {"routes": ROUTES}}).groups["g"], 1_000_000)
        first = pipeline.process("t", 0, records([{"n": 1}, {"n": 2}, b"junk"]), -1)
        second = pipeline.process("t", 1, records([{"n": 5}], partition=1), -1)
        metrics, gate = Metrics(), QueueGate(FakeEnqueuer().queue_lengths, ("q", "q2"), high=100, low=10)
        Accountant("g", metrics, get_logger("test"), gate).account([(TP0, first), (TP1, second)],
                                                                  WriteResult(5, (), 0.004))
        assert _sample(metrics, "karafkad_messages_consumed_total", topic="t") == 4
        assert _sample(metrics, "karafkad_jobs_enqueued_total", route="a", queue="q") == 3
        assert _sample(metrics, "karafkad_jobs_enqueued_total", route="b", queue="q2") == 2
        assert _sample(metrics, "karafkad_dead_letters_total", route="a", kind="decode") == 1
        assert _sample(metrics, "karafkad_messages_skipped_total", route="b", reason="filtered") == 1
        assert _sample(metrics, "karafkad_messages_skipped_total", route="b", reason="error:decode") == 1
        assert _sample(metrics, "karafkad_enqueue_seconds_sum") == 0.004
        assert [(p["kind"], p["route"], p["offset"]) for p in metrics.recent.snapshot()] == [
            ("skipped", "b", 2), ("dead letter", "a", 2)]
        assert gate._estimate == {"q": 3, "q2": 2}

    def test_jobs_found_already_written_are_counted_as_redelivered_not_enqueued(self, tmp_path: Path) -> None:
        """A job the enqueuer found in Redis already (a redelivery after a crash) is not counted twice."""
        pipeline = Pipeline(make_table(tmp_path, {"g": {"routes": ROUTES[:1]}}).groups["g"], 1_000_000)
        batch = pipeline.process("t", 0, records([{"n": 1}, {"n": 2}]), -1)
        metrics = Metrics()
        result: Any = WriteResult(1, (batch.jobs[0],), 0.001)
        Accountant("g", metrics, get_logger("test"), None).account([(TP0, batch)], result)
        assert _sample(metrics, "karafkad_jobs_enqueued_total", route="a", queue="q") == 1
        assert _sample(metrics, "karafkad_redelivered_total", topic="t") == 1
