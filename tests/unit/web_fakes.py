"""A StatusBoard on fakes, and what the supervisor and the metrics would give it, for the tests of the web floor."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from clocks import Clock

from karafkad.observability import Metrics
from karafkad.web.board import StatusBoard


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
    """Metrics of group shop: routes orders and big on topic orders, counted, lagging, a reload rejected."""
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
