"""web/board.py and web/page.py: the snapshot behind the status page (counts, rates, lag, queue depths) and its
rendering (they share the fakes below)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import redis

from karafkad.errors import EnqueueError
from karafkad.observability import Metrics
from karafkad.web.board import QueueDepths, RateSampler, Readings, StatusBoard
from karafkad.web.page import fmt_count, fmt_duration, fmt_rate, render


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def supervisor_status(**changes: Any) -> dict[str, Any]:
    """What Supervisor.status() answers for one group with two routes and two threads."""
    status: dict[str, Any] = {
        "state": "running", "ready": True, "started_at": 5000.0, "routes_file": "/etc/karafkad/routes.yaml",
        "redis": "redis://127.0.0.1:6379/0", "kafka": {"bootstrap_servers": ["127.0.0.1:9092"]},
        "groups": {"shop": {"routes": ["orders", "big"], "threads": [
            {"name": "consumer-shop-0", "index": 0, "alive": True, "joined": True,
             "partitions": ["orders[0]", "orders[1]"]},
            {"name": "consumer-shop-1", "index": 1, "alive": True, "joined": False, "partitions": []}]}},
        "routes": [
            {"group": "shop", "name": "orders", "topics": ["orders"], "queue": "q-orders", "filter": None,
             "dead_letter": "orders.dead", "on_error": "dead_letter"},
            {"group": "shop", "name": "big", "topics": ["orders"], "queue": "q-big", "filter": "params.total > 100",
             "dead_letter": None, "on_error": "skip"}],
    }
    status.update(changes)
    return status


def filled_metrics() -> Metrics:
    metrics = Metrics()
    metrics.consumed.labels("shop", "orders").inc(10)
    metrics.enqueued.labels("shop", "orders", "q-orders").inc(7)
    metrics.enqueued.labels("shop", "orders", "q-other").inc(1)
    metrics.skipped.labels("shop", "big", "filtered").inc(6)
    metrics.skipped.labels("shop", "big", "error:schema").inc(1)
    metrics.dead_lettered.labels("shop", "orders", "decode").inc(2)
    metrics.lag.labels("shop", "orders", "0").set(4)
    metrics.lag.labels("shop", "orders", "1").set(0)
    metrics.reloads.labels("rejected").inc()
    return metrics


class Board:
    """A StatusBoard on fakes: a settable status, a real Metrics, queue depths from a dict (or an error)."""

    def __init__(self, metrics: Metrics | None = None, status: dict[str, Any] | None = None) -> None:
        self.clock = Clock()
        self.metrics = metrics or filled_metrics()
        self.status = status or supervisor_status()
        self.depths: dict[str, int] = {"q-orders": 3, "q-big": 0}
        self.failure: Exception | None = None
        self.reads = 0
        self.board = StatusBoard(lambda: self.status, self.metrics, self.queue_lengths, clock=self.clock,
                                 wall=lambda: 5060.0)

    def queue_lengths(self, queues: Sequence[str]) -> Mapping[str, int]:
        self.reads += 1
        if self.failure is not None:
            raise self.failure
        return {q: self.depths[q] for q in queues}


def cell(page: str, row_attr: str, field: str) -> str:
    """The count shown in the cell `field` of the row carrying `row_attr`."""
    row = re.search(rf"<tr {re.escape(row_attr)}[^>]*>(.*?)</tr>", page, re.S)
    assert row, f"no row {row_attr}"
    value = re.search(rf'data-field="{field}"><span class="count">([^<]*)<', row.group(1))
    assert value, f"no {field} in row {row_attr}"
    return value.group(1)


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

    def test_snapshot_has_lag_and_pause_per_assigned_partition(self) -> None:
        """Partitions come from the threads' assignments, lag from the gauge, paused from the thread's gauge."""
        fake = Board()
        fake.metrics.paused.labels("shop", "0").set(2)
        snap = fake.board.snapshot()
        assert snap["partitions"] == [
            {"group": "shop", "thread": "consumer-shop-0", "topic": "orders", "partition": 0, "lag": 4, "paused": True,
             "held": None},
            {"group": "shop", "thread": "consumer-shop-0", "topic": "orders", "partition": 1, "lag": 0, "paused": True,
             "held": None},
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

    def test_page_renders_the_snapshot(self) -> None:
        """page() is render(snapshot()): the numbers of the snapshot, in the HTML."""
        page = Board().board.page()
        assert cell(page, 'data-group="shop" data-route="orders"', "enqueued") == "8"
        assert cell(page, 'data-group="shop" data-route="big"', "skipped") == "7"
        assert cell(page, 'data-group="shop" data-topic="orders" data-partition="0"', "lag") == "4"
        assert cell(page, 'data-queue="q-orders"', "depth") == "3"


class TestRender:
    def test_everything_from_operators_and_messages_is_escaped(self) -> None:
        """Route, group, topic, queue names, the filter, paths and problem messages are text, never markup."""
        evil = '<img src=x onerror="alert(1)">'
        fake = Board(status=supervisor_status(
            routes_file=evil, redis=evil,
            groups={evil: {"routes": [evil], "threads": [
                {"name": evil, "index": 0, "alive": True, "joined": True, "partitions": [f"{evil}[0]"]}]}},
            routes=[{"group": evil, "name": evil, "topics": [evil], "queue": evil, "filter": f'"{evil}',
                     "dead_letter": evil, "on_error": "dead_letter"}]))
        fake.depths = {evil: 1}
        fake.metrics.recent.add(evil, evil, route=evil, topic=evil, partition=evil, offset=evil)
        page = fake.board.page()
        assert "<img" not in page
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
        assert 'title="&quot;&lt;img' in page  # the filter, inside an attribute

    def test_template_markers_in_values_are_not_expanded(self) -> None:
        """A route named {{js}} is shown as such: values are substituted in one pass over the template."""
        routes = [{"group": "g", "name": "{{js}}", "topics": ["t"], "queue": "q", "filter": None,
                   "dead_letter": None, "on_error": "skip"}]
        fake = Board(status=supervisor_status(routes=routes))
        fake.depths = {"q": 0}
        page = fake.board.page()
        assert "<b>{{js}}</b>" in page
        assert page.count("use strict") == 1

    def test_empty_states(self) -> None:
        """A daemon that is starting: no routes, no groups, nothing consumed, no problems; each says so."""
        page = render({"state": "starting", "ready": False})
        assert "No routes." in page
        assert "No consumer group has started yet." in page
        assert "Nothing consumed yet." in page
        assert "Nothing went wrong recently." in page
        assert 'data-field="state">starting<' in page
        assert 'class="badge bad" data-field="ready">not ready<' in page

    def test_redis_unreachable_is_shown_not_raised(self) -> None:
        """Without depths the queues card says Redis unreachable with the reason, and the header has a red badge."""
        page = render({"state": "running", "ready": False, "routes": [],
                       "queues": {"depths": None, "error": "Redis: ConnectionError: refused"}})
        assert "<b>Redis unreachable</b>" in page
        assert "Redis: ConnectionError: refused" in page
        assert 'class="badge bad" data-field="redis"' in page

    def test_badges_follow_readiness_backpressure_and_problems(self) -> None:
        """Green when ready and flowing; amber for paused partitions; red for problems of the last 5 minutes."""
        calm = render({"state": "running", "ready": True, "generated_at": 1000.0,
                       "recent": [{"time": 100.0, "kind": "redis", "message": "old"}]})
        assert 'class="badge ok" data-field="ready"' in calm
        assert 'class="badge ok" data-field="backpressure"' in calm
        assert 'class="badge ok" data-field="problems">no recent problems<' in calm
        busy = render({"state": "draining", "ready": False, "generated_at": 1000.0,
                       "partitions": [{"group": "g", "thread": "t", "topic": "a", "partition": 0, "lag": 1,
                                       "paused": True}],
                       "recent": [{"time": 990.0, "kind": "redis", "message": "new"}]})
        assert 'class="badge warn" data-field="state">draining<' in busy
        assert 'class="badge warn" data-field="backpressure">backpressure · 1 paused<' in busy
        assert 'class="badge bad" data-field="problems">1 problem in 5 min<' in busy

    def test_self_contained(self) -> None:
        """No external asset: the CSS and JS are inline, nothing is loaded from another host."""
        page = Board().board.page()
        assert "<style>" in page and "<script>" in page
        assert not re.search(r'(src|href)="(https?:)?//', page)
        assert re.search(r'<html lang="en" data-refresh="\d+" data-generated="5060.000">', page)

    def test_counts_have_separators_and_rates_a_unit(self) -> None:
        """Large counts are grouped by thousands; a rate shows per second, or — when not known yet."""
        metrics = Metrics()
        metrics.enqueued.labels("shop", "orders", "q-orders").inc(1234567)
        page = Board(metrics=metrics).board.page()
        assert cell(page, 'data-group="shop" data-route="orders"', "enqueued") == "1,234,567"
        assert '<span class="rate zero">—</span>' in page


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
        page = render(snap)
        assert "Recent operations" in page and "replay 3 of group shop" in page

    def test_a_redis_that_does_not_answer_means_no_operations_shown(self) -> None:
        """Never an error on the page for it: the problem list already says Redis is down."""
        fake = Board()

        def broken() -> list[dict[str, object]]:
            raise redis.ConnectionError("refused")

        fake.board.operations = broken
        assert fake.board.snapshot()["operations"] == []
        assert "Recent operations" not in fake.board.page()


ORDERED = [{"group": "shop", "name": "orders", "topics": ["orders"], "queue": "q", "filter": None,
            "dead_letter": None, "on_error": "skip", "ordering": "key", "on_failure": "hold"}]


def _held_key(key: str, job: str, waiting: int = 3, counted_all: bool = True) -> dict[str, Any]:
    return {"group": "shop", "route": "orders", "topic": "orders", "partition": 2, "key": key, "job": job,
            "failed_at": "2026-11-30 08:00:00Z", "failed_at_ms": 1, "error": "ValueError: no such customer",
            "waiting": waiting, "counted_all": counted_all}


def _page(held: dict[str, Any]) -> str:
    """The page of a daemon with one route ordered by key and these held keys (the page is made at 5060)."""
    fake = Board(status=supervisor_status(routes=ORDERED, held_keys=held))
    fake.depths = {"q": 0}
    return fake.board.page()


class TestHeldKeys:
    def test_each_held_key_is_shown_with_its_job_error_and_waiting_count(self) -> None:
        """A card per held key (escaped), a red header badge apart from the partitions held at unreadable batches,
        and the route tagged as ordered."""
        page = _page({"keys": [_held_key("<b>c1</b>", "kd-orders-1-2-3"),
                                _held_key("c2", "kd-orders-1-2-4", waiting=100, counted_all=False)],
                       "scanned_at": 5055.0, "error": None, "unread": {}})
        assert 'class="badge bad" data-field="held_keys">2 keys held by a failed job<' in page
        assert 'data-field="held"' not in page
        assert "Held keys" in page and "looked 5 s ago" in page
        assert "&lt;b&gt;c1&lt;/b&gt;" in page and "<b>c1</b>" not in page
        assert cell(page, 'data-group="shop" data-route="orders" data-job="kd-orders-1-2-4"', "waiting") == "100+"
        assert "ValueError: no such customer" in page and "karafkad held retry JOB" in page
        assert ">ordered by key<" in page

    @pytest.mark.parametrize(("held", "said"), [
        ({}, "Not looked yet."),
        ({"keys": [], "scanned_at": 5050.0, "error": None, "unread": {}}, "No key is held."),
        ({"keys": [], "scanned_at": 5050.0, "error": "Redis: refused", "unread": {"q": 7}}, "Redis: refused")])
    def test_no_held_key_says_whether_it_was_looked_for(self, held: dict[str, Any], said: str) -> None:
        """Before the first look, after a look that found none, and with the reason a Redis was not read and the
        failed jobs left unread."""
        page = _page(held)
        assert said in page and 'data-field="held_keys"' not in page
        if held.get("unread"):
            assert "queue q: 7 older failed jobs not read" in page

    def test_without_an_ordered_route_there_is_no_card(self) -> None:
        """No route has `ordering`: nothing can be held, and the page does not speak of it."""
        assert "Held keys" not in Board().board.page()


class TestFormatting:
    @pytest.mark.parametrize(("value", "text"), [(None, "—"), (0, "0"), (3.0, "3"), (12345.0, "12,345")])
    def test_counts(self, value: float | None, text: str) -> None:
        """Counts are whole numbers with thousands separators; unknown is a dash."""
        assert fmt_count(value) == text

    @pytest.mark.parametrize(("value", "text"), [(None, "—"), (0, "0/s"), (0.25, "0.2/s"), (9.5, "9.5/s"),
                                                 (12.4, "12/s"), (4321.0, "4,321/s")])
    def test_rates(self, value: float | None, text: str) -> None:
        """Rates keep one decimal below 10/s, none above."""
        assert fmt_rate(value) == text

    def test_durations(self) -> None:
        """Uptime and ages as times.duration writes them; unknown is a dash."""
        assert (fmt_duration(None), fmt_duration(125)) == ("—", "2 min 5 s")


class TestWhyPaused:
    def test_a_thread_retrying_a_write_says_why_it_is_paused(self) -> None:
        """The failed write a thread keeps retrying (here: replicas behind) is on the page beside "paused"."""
        status = supervisor_status()
        status["groups"]["shop"]["threads"][0]["waiting"] = "replicas: 0 of 1 replicas acknowledged within 1000 ms"
        page = Board(status=status).board.page()
        assert ('<span class="pill warn">paused</span><span class="sub">replicas: 0 of 1 replicas acknowledged '
                'within 1000 ms</span>') in page

    def test_a_groups_own_redis_is_named_in_its_header(self) -> None:
        status = supervisor_status()
        status["groups"]["shop"]["redis"] = "sentinel heavy via 10.0.0.1:26379 db 0"
        page = Board(status=status).board.page()
        assert "Redis sentinel heavy via 10.0.0.1:26379 db 0" in page
        status["groups"]["shop"]["redis"] = status["redis"]  # the top-level one: not repeated per group
        assert " · Redis " not in Board(status=status).board.page()
