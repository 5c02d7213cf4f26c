"""web/page.py: the console's pages around their cards, and the overview of one daemon (render): every value
escaped, no inline script, the badges of the header."""

from __future__ import annotations

import re

from web_fakes import Board, cell, supervisor_status

from karafkad.observability import Metrics
from karafkad.web.deployment import DeploymentView, Member
from karafkad.web.html import Viewer
from karafkad.web.page import overview_page, render, shell


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
        page = render(fake.board.snapshot())
        assert "<img" not in page
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
        assert 'title="&quot;&lt;img' in page  # the filter, inside an attribute

    def test_template_markers_in_values_are_not_expanded(self) -> None:
        """A route named {{body}} is shown as such: values are substituted in one pass over the template."""
        routes = [{"group": "g", "name": "{{body}}", "topics": ["t"], "queue": "q", "filter": None,
                   "dead_letter": None, "on_error": "skip"}]
        fake = Board(status=supervisor_status(routes=routes))
        fake.depths = {"q": 0}
        page = render(fake.board.snapshot())
        assert "<b>{{body}}</b>" in page
        assert page.count("<main") == 1

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
                                       "paused": "backpressure"}],
                       "recent": [{"time": 990.0, "kind": "redis", "message": "new"}]})
        assert 'class="badge warn" data-field="state">draining<' in busy
        assert 'class="badge warn" data-field="backpressure">backpressure · 1 paused<' in busy
        assert 'class="badge bad" data-field="problems">1 problem in 5 min<' in busy

    def test_self_contained_and_without_inline_script(self) -> None:
        """No external asset: the style and script come from this daemon's /static/ (the Content-Security-Policy
        allows no inline script), nothing is loaded from another host."""
        page = render(Board().board.snapshot())
        assert '<link rel="stylesheet" href="/static/console.css' in page
        assert '<script src="/static/console.js' in page
        assert "<style>" not in page and "<script>" not in page
        assert not re.search(r'(src|href)="(https?:)?//', page)
        assert re.search(r'<html lang="en" data-refresh="\d+" data-generated="5060.000">', page)

    def test_counts_have_separators_and_rates_a_unit(self) -> None:
        """Large counts are grouped by thousands; a rate shows per second, or — when not known yet."""
        metrics = Metrics()
        metrics.enqueued.labels("shop", "orders", "q-orders").inc(1234567)
        page = render(Board(metrics=metrics).board.snapshot())
        assert cell(page, 'data-group="shop" data-route="orders"', "enqueued") == "1,234,567"
        assert '<span class="rate zero">—</span>' in page


class TestWhyPaused:
    def test_a_thread_retrying_a_write_says_why_it_is_paused(self) -> None:
        """The failed write a thread keeps retrying (here: replicas behind) is on the page beside "paused"."""
        status = supervisor_status()
        status["groups"]["shop"]["threads"][0].update(
            paused=True, waiting="replicas: 0 of 1 replicas acknowledged within 1000 ms")
        page = render(Board(status=status).board.snapshot())
        assert ('<span class="pill warn">paused</span><span class="sub">replicas: 0 of 1 replicas acknowledged '
                'within 1000 ms</span>') in page

    def test_a_groups_own_redis_is_named_in_its_header(self) -> None:
        """A group writing to a Redis of its own (not the top-level one) says which, once per group."""
        status = supervisor_status()
        status["groups"]["shop"]["redis"] = "sentinel heavy via 10.0.0.1:26379 db 0"
        page = render(Board(status=status).board.snapshot())
        assert "Redis sentinel heavy via 10.0.0.1:26379 db 0" in page
        status["groups"]["shop"]["redis"] = status["redis"]  # the top-level one: not repeated per group
        assert " · Redis " not in render(Board(status=status).board.snapshot())


class TestShell:
    def test_the_header_counts_the_daemons_and_the_gone(self) -> None:
        """Live daemons are a green badge, gone ones a red one; the operators' pauses an amber one."""
        own = {"state": "running", "ready": True, "instance": {"name": "a"}, "generated_at": 100.0,
               "pauses": [{"group": "g", "route": "r", "topic": None, "partition": None, "who": "ops", "at": 1.0}]}
        view = DeploymentView(own, [Member("a", 100.0, own, own=True), Member("b", 99.0, {"state": "running"}),
                                    Member("c", 20.0, None)])
        page = shell(view, "", active="/", now=100.0)
        assert 'class="badge ok" data-field="daemons">2 daemons<' in page
        assert 'class="badge bad" data-field="gone">1 gone<' in page
        assert 'class="badge warn" data-field="operator-pauses">1 pause by operators<' in page

    def test_a_redis_that_cannot_tell_the_deployment_is_a_red_badge(self) -> None:
        """A Redis that cannot tell the deployment is a red badge."""
        own = {"state": "running", "ready": True}
        page = shell(DeploymentView(own, [Member("a", 1.0, own, own=True)], "ConnectionError"), "", active="/")
        assert 'data-field="deployment">deployment unknown: Redis unreachable<' in page

    def test_the_navigation_says_whether_one_may_act(self) -> None:
        """Read-only without web.auth; a sign-in link with it; the signed-in name and a sign-out form after."""
        view = DeploymentView({"state": "running"}, [])
        assert ">read-only<" in shell(view, "", active="/")
        assert 'href="/login?back=/explorer"' in shell(view, "", active="/explorer", viewer=Viewer(True))
        signed = shell(view, "", active="/", viewer=Viewer(True, "ops", "tok"))
        assert "signed in: ops" in signed and 'action="/logout"' in signed and 'value="tok"' in signed

    def test_what_an_action_did_is_shown_once_escaped(self) -> None:
        """What an action did is shown once escaped."""
        page = shell(DeploymentView({"state": "running"}, []), "", active="/", flash=["<b>paused</b>"])
        assert '<p class="flash" role="status">&lt;b&gt;paused&lt;/b&gt;</p>' in page

    def test_the_overview_refreshes_itself_and_the_other_pages_do_not(self) -> None:
        """Only the overview asks the script to fetch it again (and has a <noscript> refresh)."""
        view = DeploymentView({"state": "running"}, [])
        assert 'data-refresh="5"' in overview_page(view) and "<noscript>" in overview_page(view)
        assert 'data-refresh="0"' in shell(view, "", active="/held") and "<noscript>" not in shell(
            view, "", active="/held")


class TestHeldKeys:
    def test_held_keys_are_a_red_badge_and_their_card_and_the_route_is_tagged(self) -> None:
        """A daemon with a route ordered by key and two held keys: a red header badge (apart from the partitions
        held at unreadable batches), the held keys card, and the route tagged as ordered."""
        routes = [{"group": "shop", "name": "orders", "topics": ["orders"], "queue": "q", "filter": None,
                   "dead_letter": None, "on_error": "skip", "ordering": "key", "on_failure": "hold"}]
        keys = [{"group": "shop", "route": "orders", "topic": "orders", "partition": 2, "key": f"c{n}",
                 "job": f"kd-{n}", "failed_at": "2026-11-30 08:00:00Z", "error": "ValueError: no", "waiting": 1}
                for n in (1, 2)]
        fake = Board(status=supervisor_status(routes=routes, held_keys={"keys": keys, "scanned_at": 5055.0,
                                                                        "error": None, "unread": {}}))
        fake.depths = {"q": 0}
        page = render(fake.board.snapshot())
        assert 'class="badge bad" data-field="held_keys">2 keys held by a failed job<' in page
        assert 'data-field="held"' not in page
        assert "<h2>Held keys" in page and ">ordered by key<" in page
