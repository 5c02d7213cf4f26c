"""web/page.py: the status page as HTML: every number of the snapshot in its cell, every name escaped, badges that
follow the daemon's state, and nothing loaded from another host."""

from __future__ import annotations

import re
from typing import Any

import pytest
from web_fakes import Board, cell, supervisor_status

from karafkad.observability import Metrics
from karafkad.web.page import fmt_count, fmt_duration, fmt_rate, render


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
        """A group writing to a Redis of its own names it in its header; one on the top-level Redis does not."""
        status = supervisor_status()
        status["groups"]["shop"]["redis"] = "sentinel heavy via 10.0.0.1:26379 db 0"
        page = Board(status=status).board.page()
        assert "Redis sentinel heavy via 10.0.0.1:26379 db 0" in page
        status["groups"]["shop"]["redis"] = status["redis"]  # the top-level one: not repeated per group
        assert " · Redis " not in Board(status=status).board.page()


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
