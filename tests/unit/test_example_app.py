"""An application's own tests of its routes, written with karafkad.testing: the example shop.

This is what a team that owns config/routes.yaml and handlers/ would keep in
its test suite. No Kafka and no Redis: each message goes through the routes as
the daemon would route it, and the jobs it would enqueue are checked, then run
inline with the real handlers.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from karafkad.testing import Routes, message

CONFIG = Path(__file__).resolve().parents[2] / "config" / "routes.yaml"


def order(**changes: object) -> dict[str, object]:
    """A valid order, with some fields changed."""
    return {"id": 1, "customer": {"email": "ada@example.com"}, "total": 42.5, "currency": "EUR", **changes}


@pytest.fixture(scope="module")
def shop() -> Iterator[Routes]:
    routes = Routes(CONFIG, environ={})
    yield routes
    # Only this repository's suite needs this: other tests load other modules named like the shop's handlers.
    routes.table.loader.forget()
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() not in routes.table.loader.paths]


class TestOrders:
    def test_an_order_is_processed_by_process_order(self, shop: Routes, capsys: pytest.CaptureFixture[str]) -> None:
        """An ordinary order is one job on the `orders` queue, retried 3 times; running it prints the order."""
        outcome = shop.feed("orders", order(), key="c1")
        job = outcome.job()
        assert (job.queue, job.function) == ("orders", "orders.process_order")
        assert job.params == order()
        assert job.options["retry"] == {"max": 3, "intervals": [5, 30, 120]}
        assert job.run() == "order 1: 42.5 EUR for ada@example.com"
        assert capsys.readouterr().out == "order 1: 42.5 EUR for ada@example.com\n"

    def test_a_big_order_also_alerts_with_its_partition(self, shop: Routes) -> None:
        """1000 or more: a second job on `alerts`, at the front, whose handler is told the partition."""
        outcome = shop.feed("orders", order(total=1000), partition=2)
        assert outcome.decisions == {"orders": "enqueue", "big-orders": "enqueue"}
        alert = outcome.job("big-orders")
        assert alert.queue == "alerts" and alert.options["at_front"] is True
        assert alert.run() == "ALERT big order 1 (1000 EUR) from partition 2"

    @pytest.mark.parametrize(("changes", "orders", "alerts"), [
        ({"total": 0}, "skip filtered", "skip filtered"),
        ({"currency": "GBP"}, "skip filtered", "skip filtered"),
        ({"total": 5000, "test": True}, "enqueue", "skip filtered"),
        ({"customer": {"email": "bot@loadtest.invalid"}}, "skip vetoed", "skip filtered"),
    ])
    def test_what_is_not_enqueued(self, shop: Routes, changes: dict[str, object], orders: str, alerts: str) -> None:
        """Free orders, other currencies, test orders and load-test orders are held back where they should be."""
        assert shop.feed("orders", order(**changes)).decisions == {"orders": orders, "big-orders": alerts}

    def test_a_broken_order_is_dead_lettered_with_the_reason(self, shop: Routes) -> None:
        """An order failing the schema goes to shop.dead-letters once, naming both routes and the field."""
        outcome = shop.feed("orders", order(total="lots"))
        assert outcome.jobs == []
        [letter] = outcome.dead_letters
        assert (letter.topic, letter.kind, letter.routes) == ("shop.dead-letters", "schema", ("orders", "big-orders"))
        assert letter.reason.startswith("/total: ")


class TestAnalytics:
    def test_page_views_of_a_poll_are_counted_in_one_job(self, shop: Routes) -> None:
        """Views polled together become one record_views job; a broken view is skipped, not dead-lettered."""
        outcome = shop.feed_batch("page-views", [{"page": "/"}, {"page": "/"}, message(raw="oops"),
                                                 {"page": "/cart"}])
        assert outcome.job().run() == "page views batch of 3: {'/': 2, '/cart': 1}"
        assert [(s.route, s.reason) for s in outcome.skipped] == [("page-views", "error:decode")]
        assert outcome.dead_letters == []

    def test_audit_lines_and_tombstones_are_stored(self, shop: Routes) -> None:
        """Text lines reach store_line as text; a tombstone as None; comment lines never."""
        assert shop.feed("audit-log", raw="ada logged in").run() == ["audit: ada logged in"]
        assert shop.feed("audit-log", tombstone=True, key="a1").run() == ["audit: (tombstone)"]
        assert shop.feed("audit-log", raw="# rotated").jobs == []
