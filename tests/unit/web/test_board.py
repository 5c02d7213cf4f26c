"""web/board.py: the snapshot behind the console (counts, rates, lag, queue depths); its fakes (tests/unit/web_fakes.py)
are shared with the page tests (test_page.py, test_overview.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import redis
from clocks import Clock
from web_fakes import Board, filled_metrics, supervisor_status

from karafkad.errors import EnqueueError
from karafkad.web.board import QueueDepths, RateSampler, Readings


class TestReadings:
    def test_reads_every_series_the_page_shows(self) -> None:
        """Counters come keyed by group and route (enqueued summed over queues), breakdowns by reason and kind."""
        readings = Readings.read(filled_metrics())
        assert readings.consumed == {("shop", "orders"): 10}
        assert readings.enqueued == {("shop", "orders"): 8}
        assert readings.skipped == {("shop", "big"): {"filtered": 6, "error:schema": 1}}
        assert readings.dead_lettered == {("shop", "orders"): {"decode": 2}}
        assert readings.lag == {("shop", "orders", 0): 4, ("shop", "orders", 1): 0}
        assert readings.reloads == {"rejected": 1}

    def test_totals_are_the_rated_counters(self) -> None:
        """The sampler tracks consumed per topic and enqueued/skipped/dead-lettered per route, breakdowns summed."""
        totals = Readings.read(filled_metrics()).totals()
        assert totals == {("consumed", "shop", "orders"): 10, ("enqueued", "shop", "orders"): 8,
                          ("skipped", "shop", "big"): 7, ("dead_lettered", "shop", "orders"): 2}


class TestRateSampler:
    def test_no_rate_until_a_sample_is_a_second_old(self) -> None:
        """Right after the first sample there is no span to divide by: no rates, span None."""
        clock = Clock()
        sampler = RateSampler(clock=clock)
        sampler.add({("a",): 5})
        clock.now += 0.5
        assert sampler.rates({("a",): 6}) == ({}, None)

    def test_rate_is_the_growth_since_the_oldest_sample_in_the_window(self) -> None:
        """Samples every 2 s; the rate is (now - oldest in window) / its age."""
        clock = Clock()
        sampler = RateSampler(window=30, interval=2, clock=clock)
        for value in (0, 20, 40):
            sampler.add({("a",): value})
            clock.now += 2
        rates, span = sampler.rates({("a",): 60})
        assert span == 6
        assert rates == {("a",): 10}

    def test_samples_closer_than_the_interval_are_not_kept(self) -> None:
        """A page refreshed by many browsers at once does not fill the history."""
        clock = Clock()
        sampler = RateSampler(window=30, interval=2, clock=clock)
        sampler.add({("a",): 0})
        clock.now += 1
        sampler.add({("a",): 100})  # too soon: dropped
        clock.now += 1
        assert sampler.rates({("a",): 20}) == ({("a",): 10}, 2)

    def test_samples_beyond_the_window_are_forgotten(self) -> None:
        """A burst a minute ago no longer shows in a 30 s rate."""
        clock = Clock()
        sampler = RateSampler(window=30, interval=2, clock=clock)
        sampler.add({("a",): 0})
        clock.now += 60
        sampler.add({("a",): 1000})
        clock.now += 10
        rates, span = sampler.rates({("a",): 1050})
        assert (rates, span) == ({("a",): 5}, 10)

    def test_a_series_born_after_the_sample_counts_from_zero(self) -> None:
        """A route that enqueued its first jobs since the oldest sample rates from 0."""
        clock = Clock()
        sampler = RateSampler(clock=clock)
        sampler.add({})
        clock.now += 4
        assert sampler.rates({("new",): 8})[0] == {("new",): 2}


class TestQueueDepths:
    def test_redis_is_read_at_most_once_per_interval(self) -> None:
        """Many page loads within a second cost Redis one pipeline of LLENs."""
        clock, calls = Clock(), []
        depths = QueueDepths(lambda qs: calls.append(qs) or dict.fromkeys(qs, 1), interval=1.0, clock=clock)
        for _ in range(5):
            assert depths.get(["a"]) == ({"a": 1}, None)
        clock.now += 1.0
        depths.get(["a"])
        assert len(calls) == 2

    def test_two_requests_at_once_read_redis_once(self) -> None:
        """A request arriving while another is reading the depths waits for that reading and gets its answer:
        the throttle's state is read and written under its lock, so Redis sees one read, not two."""
        entered, release, second_read = threading.Event(), threading.Event(), threading.Event()
        calls: list[Sequence[str]] = []

        def read(queues: Sequence[str]) -> Mapping[str, int]:
            calls.append(queues)
            if len(calls) == 2:
                second_read.set()
            entered.set()
            release.wait(5)
            return dict.fromkeys(queues, len(calls))

        depths = QueueDepths(read, clock=Clock())
        answers: list[Any] = []
        first = threading.Thread(target=lambda: answers.append(depths.get(["a"])))
        first.start()
        assert entered.wait(5)
        second = threading.Thread(target=lambda: answers.append(depths.get(["a"])))
        second.start()
        second_read.wait(0.5)  # without the lock the second request reads Redis at once
        release.set()
        first.join(5)
        second.join(5)
        assert len(calls) == 1
        assert answers == [({"a": 1}, None), ({"a": 1}, None)]

    def test_another_set_of_queues_is_read_at_once(self) -> None:
        """After a reload adds a queue, its depth shows on the next request, not a second later."""
        depths = QueueDepths(lambda qs: dict.fromkeys(qs, 0), clock=Clock())
        depths.get(["a"])
        assert depths.get(["a", "b"]) == ({"a": 0, "b": 0}, None)

    @pytest.mark.parametrize("error", [EnqueueError("Redis: ConnectionError: refused"),
                                       redis.ConnectionError("refused"), OSError("unreachable")])
    def test_a_redis_failure_is_an_answer_not_an_exception(self, error: Exception) -> None:
        """Redis down: (None, the reason), and the failure is cached like a success."""
        calls = []

        def fail(queues: Sequence[str]) -> Mapping[str, int]:
            calls.append(queues)
            raise error

        depths = QueueDepths(fail, clock=Clock())
        assert depths.get(["a"]) == (None, str(error))
        assert depths.get(["a"]) == (None, str(error))
        assert len(calls) == 1

    def test_the_reason_has_its_password_masked(self) -> None:
        """An error quoting a Redis URL with a password shows *** instead (the page has no authentication)."""
        def fail(queues: Sequence[str]) -> Mapping[str, int]:
            raise EnqueueError("cannot reach redis://user:hunter2@db:6379/0")

        _, reason = QueueDepths(fail, clock=Clock()).get(["a"])
        assert reason is not None
        assert "hunter2" not in reason


class TestStatusBoard:
    def test_snapshot_has_the_counts_per_route(self) -> None:
        """Each route of the status gets its counts: consumed of its topics, enqueued, skipped and dead letters."""
        snap = Board().board.snapshot()
        by_name = {r["name"]: r for r in snap["routes"]}
        assert by_name["orders"]["consumed"] == 10
        assert by_name["orders"]["enqueued"] == 8
        assert by_name["orders"]["dead_lettered"] == {"decode": 2}
        assert by_name["big"]["skipped"] == {"filtered": 6, "error:schema": 1}
        assert by_name["big"]["filter"] == "params.total > 100"

    def test_snapshot_has_lag_and_why_each_assigned_partition_is_paused(self) -> None:
        """Partitions come from the threads' assignments, lag from the gauge; paused says why: an operator's pause
        (its partitions only), or backpressure (the thread waits with every partition paused, and says why)."""
        status = supervisor_status()
        status["groups"]["shop"]["threads"][0]["operator_paused"] = ["orders[1]"]
        assert [(p["partition"], p["lag"], p["paused"]) for p in Board(status=status).board.snapshot()["partitions"]
                ] == [(0, 4, None), (1, 0, "operator")]
        status["groups"]["shop"]["threads"][0].update(operator_paused=[], paused=True, waiting="redis: down")
        snap = Board(status=status).board.snapshot()
        assert snap["partitions"] == [
            {"group": "shop", "thread": "consumer-shop-0", "topic": "orders", "partition": 0, "lag": 4,
             "paused": "backpressure", "held": None, "waiting": "redis: down"},
            {"group": "shop", "thread": "consumer-shop-0", "topic": "orders", "partition": 1, "lag": 0,
             "paused": "backpressure", "held": None, "waiting": "redis: down"},
        ]

    def test_snapshot_has_queue_depths_uptime_and_the_recent_problems(self) -> None:
        """Depths of every routed queue, seconds since start, the recent problems, the reload counts."""
        fake = Board()
        fake.metrics.recent.add("redis", "Redis: down")
        snap = fake.board.snapshot()
        assert snap["queues"] == {"depths": {"q-big": 0, "q-orders": 3}, "error": None}
        assert snap["uptime"] == 60
        assert [p["message"] for p in snap["recent"]] == ["Redis: down"]
        assert snap["reloads"] == {"rejected": 1}
        assert snap["state"] == "running"

    def test_topics_of_removed_routes_are_left_out(self) -> None:
        """After a reload removed a group, its counters stay in /metrics but the page lists current topics only."""
        fake = Board()
        fake.metrics.consumed.labels("gone", "old-topic").inc(3)
        assert [(t["group"], t["topic"]) for t in fake.board.snapshot()["topics"]] == [("shop", "orders")]

    def test_snapshot_is_json(self) -> None:
        """/status.json serves the snapshot as it is."""
        snap = Board().board.snapshot()
        assert json.loads(json.dumps(snap))["routes"][0]["name"] == "orders"

    def test_redis_unreachable_is_in_the_snapshot(self) -> None:
        """Redis down: no depths and the reason, and the rest of the snapshot as usual."""
        fake = Board()
        fake.failure = EnqueueError("Redis: ConnectionError: Error 111 connecting")
        snap = fake.board.snapshot()
        assert snap["queues"] == {"depths": None, "error": "Redis: ConnectionError: Error 111 connecting"}
        assert snap["routes"][0]["enqueued"] == 8

    def test_rates_appear_once_the_main_loop_has_sampled(self) -> None:
        """tick() samples the counters; a snapshot 10 s later has per-route rates over those 10 s."""
        fake = Board()
        fake.board.tick()
        fake.clock.now += 10
        fake.metrics.enqueued.labels("shop", "orders", "q-orders").inc(50)
        fake.metrics.consumed.labels("shop", "orders").inc(100)
        snap = fake.board.snapshot()
        assert snap["rate_window"] == 10
        orders = snap["routes"][0]
        assert orders["rates"] == {"consumed": 10, "enqueued": 5, "skipped": 0, "dead_lettered": 0}
        assert snap["topics"][0]["rate"] == 10

    def test_no_rates_before_there_is_a_span(self) -> None:
        """The first snapshot of a fresh board has counts but no rates (shown as —, not as 0/s)."""
        snap = Board().board.snapshot()
        assert snap["rate_window"] is None
        assert snap["routes"][0]["rates"] is None

    def test_tick_reads_the_metrics_only_when_a_sample_is_due(self) -> None:
        """The main loop ticks every 0.2 s; the registry is read every SAMPLE_INTERVAL."""
        fake = Board()
        fake.board.tick()
        fake.clock.now += 0.2
        assert not fake.board.sampler.due()
        fake.clock.now += 2
        assert fake.board.sampler.due()

class TestOperations:
    def test_replays_and_redrives_are_listed_from_the_reader(self) -> None:
        """The operator events (read from Redis, at most once a second) are in the snapshot and on the page."""
        fake = Board()
        reads: list[int] = []

        def operations() -> list[dict[str, object]]:
            reads.append(1)
            return [{"time": 5000.0, "kind": "replay", "message": "replay 3 of group shop: 2 partition(s) moved back"}]

        fake.board.operations = operations
        snap = fake.board.snapshot()
        fake.board.snapshot()
        assert snap["operations"][0]["kind"] == "replay" and len(reads) == 1

    def test_a_redis_that_does_not_answer_means_no_operations_shown(self) -> None:
        """Never an error on the page for it: the problem list already says Redis is down."""
        fake = Board()

        def broken() -> list[dict[str, object]]:
            raise redis.ConnectionError("refused")

        fake.board.operations = broken
        assert fake.board.snapshot()["operations"] == []
