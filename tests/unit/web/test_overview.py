"""web/overview.py: the whole deployment in one view: the daemons (gone ones too), routes summed, partitions with
their daemon and why they are paused, the operators' pauses with their buttons only for who may act; and what a
page of 10 daemons and 100 partitions weighs and costs to render (printed, not asserted)."""

from __future__ import annotations

import re
import statistics
import time
from typing import Any

from web_fakes import cell

from karafkad.web import charts
from karafkad.web.deployment import DeploymentView, Member
from karafkad.web.html import READ_ONLY, Viewer
from karafkad.web.page import ASSETS, asset, overview_page

ROUTE = {"filter": None, "dead_letter": "dead", "on_error": "dead_letter", "skipped": {}, "dead_lettered": {},
         "rates": {"consumed": 1.0, "enqueued": 1.0, "skipped": 0.0, "dead_lettered": 0.0}}


def daemon(name: str, group: str, partitions: range, topic: str = "orders", **parts: Any) -> dict[str, Any]:
    """A daemon's snapshot: one route of `group`, one member holding `partitions` of `topic`."""
    held = [f"{topic}[{p}]" for p in partitions]
    return {
        "state": "running", "ready": True, "instance": {"name": name, "host": "h", "pid": 1}, "uptime": 60.0,
        "generated_at": 1000.0, "redis": "redis://r:6379/0", "version": "1",
        "groups": {group: {"threads": [{"name": f"consumer-{group}-0", "index": 0, "alive": True, "joined": True,
                                        "partitions": held}], "routes": ["r"], "redis": "redis://r:6379/0"}},
        "routes": [{**ROUTE, "group": group, "name": f"{group}-route", "topics": [topic], "queue": f"q-{group}",
                    "consumed": 10.0 * len(partitions), "enqueued": 9.0 * len(partitions)}],
        "partitions": [{"group": group, "thread": f"consumer-{group}-0", "topic": topic, "partition": p, "lag": p,
                        "paused": None, "held": None} for p in partitions],
        "topics": [{"group": group, "topic": topic, "consumed": 10.0 * len(partitions), "redelivered": 0.0,
                    "rate": 1.0}],
        "queues": {"depths": {f"q-{group}": 3}, "error": None}, "recent": [], "pauses": [], **parts}


def view(*members: Member) -> DeploymentView:
    own = next(m.snapshot for m in members if m.own and m.snapshot is not None)
    return DeploymentView(own, list(members))


class TestOverview:
    def test_every_daemon_of_every_group_in_one_view(self) -> None:
        """Two daemons of one group and one of another: one page shows all three, routes summed per group, each
        partition with its daemon."""
        page = overview_page(view(Member("a1", 1000.0, daemon("a1", "shop", range(2)), own=True),
                                  Member("a2", 999.0, daemon("a2", "shop", range(2, 4))),
                                  Member("b1", 998.0, daemon("b1", "audit", range(1), topic="log"))), now=1000.0)
        assert re.findall(r'<tr data-instance="([^"]+)" data-state="running"', page) == ["a1", "a2", "b1"]
        assert cell(page, 'data-group="shop" data-route="shop-route"', "consumed") == "40"
        assert cell(page, 'data-group="audit" data-route="audit-route"', "enqueued") == "9"
        assert re.findall(r'data-topic="orders" data-partition="3" data-instance="(a\d)"', page) == ["a2"]

    def test_a_gone_daemon_is_listed_as_gone_with_when_it_was_last_seen(self) -> None:
        """A gone daemon is listed as gone with when it was last seen."""
        page = overview_page(view(Member("a1", 1000.0, daemon("a1", "shop", range(1)), own=True),
                                  Member("killed", 940.0, None)), now=1000.0)
        assert '<tr class="gone" data-instance="killed" data-state="gone">' in page
        assert "last seen 1 min 0 s ago" in page

    def test_pauses_show_on_every_page_with_who_and_a_resume_only_for_who_may_act(self) -> None:
        """Pauses show on every page with who and a resume only for who may act."""
        pause = {"group": "shop", "route": "shop-route", "topic": None, "partition": None, "who": "ops", "at": 990.0}
        snap = daemon("a1", "shop", range(2), pauses=[pause])
        snap["partitions"][0]["paused"] = "operator"
        members = view(Member("a1", 1000.0, snap, own=True))
        read_only = overview_page(members, now=1000.0, viewer=READ_ONLY)
        assert "Paused by operators" in read_only and "<form" not in read_only
        assert '<tr data-group="shop" data-route="shop-route" data-paused>' in read_only
        acting = overview_page(members, now=1000.0, viewer=Viewer(True, "ops", "tok"))
        assert acting.count('action="/actions/resume"') == 2  # the route's row and the pauses card
        assert 'action="/actions/pause"' in acting  # partition 1 is not paused: it can be

    def test_why_a_partition_is_paused(self) -> None:
        """Why a partition is paused."""
        snap = daemon("a1", "shop", range(3))
        snap["partitions"][0]["paused"] = "operator"
        snap["partitions"][1].update(paused="backpressure", waiting="redis: refused")
        snap["partitions"][2]["held"] = {"partition": "orders[2]", "offset": 5, "error": "lz4 missing"}
        page = overview_page(view(Member("a1", 1000.0, snap, own=True)), now=1000.0)
        assert '<span class="pill warn">paused</span><span class="sub">by an operator</span>' in page
        assert '<span class="pill warn">paused</span><span class="sub">redis: refused</span>' in page
        assert "batch at offset 5 cannot be read: lz4 missing" in page


class TestWeight:
    def test_a_page_of_ten_daemons_and_a_hundred_partitions(self) -> None:
        """Measured, not asserted: the bytes of the overview (its HTML, and its two static files) and the time to
        render it, with six hours of history for 10 groups' four series and 10 queues' depths."""
        members = [Member(f"daemon-{i}", 1000.0, daemon(f"daemon-{i}", f"group-{i % 5}", range(10 * i, 10 * i + 10),
                                                         topic=f"topic-{i % 5}"), own=i == 0) for i in range(10)]
        deployment = view(*members)
        now = 6 * 3600.0 + 1000.0
        found = {f"group:{what}:group-{g}": [(float(t), t % 97) for t in range(1000, int(now), 10)]
                 for g in range(10) for what in ("consumed", "enqueued", "dead_lettered", "lag")}
        found.update({f"queue:depth:q-{q}": [(float(t), 5) for t in range(1000, int(now), 10)] for q in range(10)})
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            drawn = charts.charts(found, None, "6h", now)
            page = overview_page(deployment, drawn, now=now)
            timings.append(time.perf_counter() - started)
        assert page.count("data-partition=") == 100 and page.count('data-state="running"') == 10
        assets = sum(len(asset(name).encode()) for name in ASSETS)
        print(f"\noverview of 10 daemons, 100 partitions, 50 series of 6 h: HTML {len(page.encode()):,} bytes, "
              f"static files {assets:,} bytes (loaded once), render {statistics.median(timings) * 1000:.1f} ms "
              f"(median of 5; charts included)")
