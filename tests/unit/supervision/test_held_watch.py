"""supervision/held_watch.py: the daemon's periodic look at held keys sets the metric, keeps the status page's
answer, logs changes, and survives a Redis that does not answer."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import pytest
import structlog
from tables import make_table

from karafkad.errors import EnqueueError
from karafkad.observability import Metrics
from karafkad.routes.table import Route
from karafkad.store.held import HeldKey, HeldScan
from karafkad.supervision import held_watch
from karafkad.supervision.held_watch import HeldWatch, Source

pytestmark = pytest.mark.usefixtures("isolated_imports")


def _routes(tmp_path: Path) -> list[Route]:
    table = make_table(tmp_path, {"g": {"routes": [
        {"name": "orders", "topic": "t", "handler": "h.handle", "queue": "q", "ordering": "key"},
        {"name": "payments", "topic": "p", "handler": "h.handle", "queue": "q2", "ordering": "partition"}]}})
    return list(table.routes)


def _key(route: Route, offset: int, key: str) -> HeldKey:
    """A key of `route` held by its job at `offset`, with one job waiting."""
    topic = route.spec.topics[0]
    return HeldKey("g", route.name, topic, 0, f"k:{key}".encode(), f"{route.id_prefixes[topic]}-0-{offset}", 0,
                   "ValueError: no", 1)


def _gauge(metrics: Metrics) -> dict[tuple[str, str], float]:
    return {(s.labels["group"], s.labels["route"]): s.value for family in metrics.held_keys.collect()
            for s in family.samples}


class Watched:
    """A HeldWatch over one Redis holding `routes`, whose held keys are `held` (or which fails with `failure`)."""

    def __init__(self, routes: list[Route]) -> None:
        self.client = self  # what the watch passes back to find_held (see the fixture below)
        self.routes = routes
        self.held: list[HeldKey] = []
        self.failure: EnqueueError | None = None
        self.metrics = Metrics()
        self.watch = HeldWatch(self.sources, self.metrics, interval=0.05, wall=lambda: 1234.0)

    def sources(self) -> list[Source]:
        return [(self.client, None, self.routes)] if self.routes else []  # type: ignore[list-item]

    def find_held(self, routes: Iterable[Route]) -> HeldScan:
        assert list(routes) == self.routes
        if self.failure is not None:
            raise self.failure
        return HeldScan(list(self.held))


@pytest.fixture(autouse=True)
def store_of_each_watched(monkeypatch: pytest.MonkeyPatch) -> None:
    """find_held, as the watch calls it, answers what the Watched whose client it is given holds."""
    monkeypatch.setattr(held_watch, "find_held", lambda client, routes, settings: client.find_held(routes))


class TestScan:
    def test_each_ordered_route_s_held_keys_are_counted_and_kept_for_the_status_page(self, tmp_path: Path) -> None:
        """One key held on `orders`, none on `payments`: the gauge says 1 and 0; the status lists the key."""
        orders, payments = _routes(tmp_path)
        watched = Watched([orders, payments])
        watched.held = [_key(orders, 3, "a")]
        watched.watch.scan()
        assert _gauge(watched.metrics) == {("g", "orders"): 1.0, ("g", "payments"): 0.0}
        status = watched.watch.status()
        assert [(k["route"], k["key"], k["job"]) for k in status["keys"]] == [("orders", "a", watched.held[0].job_id)]
        assert (status["scanned_at"], status["error"], status["unread"]) == (1234.0, None, {})

    def test_a_redis_that_does_not_answer_keeps_the_last_numbers_and_says_why(self, tmp_path: Path) -> None:
        """The last look's keys and gauge stay; the status carries the error; the next look that works clears it."""
        orders, payments = _routes(tmp_path)
        watched = Watched([orders, payments])
        watched.held = [_key(orders, 3, "a")]
        watched.watch.scan()
        watched.failure = EnqueueError("Redis: connection refused")
        watched.watch.scan()
        status = watched.watch.status()
        assert len(status["keys"]) == 1 and status["error"] == "Redis: connection refused"
        assert _gauge(watched.metrics)[("g", "orders")] == 1.0
        watched.failure = None
        watched.watch.scan()
        assert watched.watch.status()["error"] is None

    def test_a_route_no_longer_ordered_loses_its_series(self, tmp_path: Path) -> None:
        """After a reload without `payments`, its gauge series is gone (not left at its last value)."""
        orders, payments = _routes(tmp_path)
        watched = Watched([orders, payments])
        watched.watch.scan()
        watched.routes = [orders]
        watched.watch.scan()
        assert _gauge(watched.metrics) == {("g", "orders"): 0.0}

    def test_a_key_is_logged_when_held_and_when_released(self, tmp_path: Path) -> None:
        """A warning naming the key and job when it becomes held (once), an info line when it no longer is."""
        orders, _ = _routes(tmp_path)
        watched = Watched([orders])
        watched.held = [_key(orders, 3, "a")]
        job_id = watched.held[0].job_id
        with structlog.testing.capture_logs() as logs:
            watched.watch.scan()
            watched.watch.scan()
            watched.held = []
            watched.watch.scan()
        assert [(e["log_level"], e.get("key"), e.get("job")) for e in logs] == [
            ("warning", "a", job_id), ("info", "a", job_id)]
        assert logs[0]["event"].startswith("key held")

    def test_many_keys_held_at_once_are_logged_a_few_by_name_then_counted(self, tmp_path: Path) -> None:
        """A handler bug that fails every key's job: LOGGED_PER_SCAN lines by name and one line counting them."""
        orders, _ = _routes(tmp_path)
        watched = Watched([orders])
        watched.held = [_key(orders, n, str(n)) for n in range(held_watch.LOGGED_PER_SCAN + 5)]
        with structlog.testing.capture_logs() as logs:
            watched.watch.scan()
        assert len(logs) == held_watch.LOGGED_PER_SCAN + 1
        assert (logs[-1]["held_now"], logs[-1]["newly_held"]) == (held_watch.LOGGED_PER_SCAN + 5,
                                                                  held_watch.LOGGED_PER_SCAN + 5)


class TestThread:
    def test_it_looks_at_once_and_again_each_interval_until_stopped(self, tmp_path: Path) -> None:
        """start() looks at once on its own thread, then every interval; stop() ends it."""
        orders, _ = _routes(tmp_path)
        watched = Watched([orders])
        looked = threading.Semaphore(0)
        scan = watched.watch.scan

        def counted() -> None:
            scan()
            looked.release()

        watched.watch.scan = counted  # type: ignore[method-assign]
        watched.watch.start()
        assert looked.acquire(timeout=5) and looked.acquire(timeout=5)
        watched.watch.stop()
        assert watched.watch._thread is not None
        watched.watch._thread.join(5)
        assert not watched.watch._thread.is_alive()
        assert watched.watch.status()["scanned_at"] == 1234.0
