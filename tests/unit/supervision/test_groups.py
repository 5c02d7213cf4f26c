"""supervision/groups.py: a group's consumer threads started, stopped and waited for together (fake threads:
running them is tests/unit/consuming/test_consumer.py's)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tables import make_table

from karafkad.routes.table import GroupRoutes
from karafkad.supervision import groups
from karafkad.supervision.groups import GroupRunner


class FakeThread:
    """What GroupRunner asks of a ConsumerThread: made with the group's spec, index, routes and stop event."""

    made: ClassVar[list[FakeThread]] = []

    def __init__(self, spec: Any, index: int, routes: Any, services: Any, stop_event: threading.Event) -> None:
        self.spec, self.index, self.routes, self.services, self.stop_event = spec, index, routes, services, stop_event
        self.started = False
        self.alive_until = 0.0
        self.drain_deadline: float | None = None
        self.joined = threading.Event()
        FakeThread.made.append(self)

    def start(self) -> None:
        self.started = True

    def is_alive(self) -> bool:
        return time.monotonic() < self.alive_until

    def join(self, timeout: float | None = None) -> None:
        time.sleep(min(timeout or 0, max(self.alive_until - time.monotonic(), 0)))


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GroupRunner:
    """The runner of a group of three threads, on fake threads."""
    FakeThread.made = []
    monkeypatch.setattr(groups, "ConsumerThread", FakeThread)
    table = make_table(tmp_path, {"g": {"threads": 3, "routes": [{"topic": "t", "handler": "h.handle"}]}})
    return GroupRunner(table.groups["g"], services="services")  # type: ignore[arg-type]


class TestGroupRunner:
    def test_one_thread_per_configured_thread_sharing_one_stop_event(self, runner: GroupRunner) -> None:
        """Thread i of `threads`, each with the group's spec, the services and the runner's stop event."""
        assert [t.index for t in FakeThread.made] == [0, 1, 2]
        assert all(t.spec is runner.routes.spec and t.services == "services" for t in FakeThread.made)
        assert all(t.stop_event is runner.stop_event for t in FakeThread.made)

    def test_the_threads_read_the_routes_of_the_latest_reload(self, runner: GroupRunner, tmp_path: Path) -> None:
        """They are given a function, not the routes: a reload that swaps runner.routes reaches them."""
        newer: GroupRoutes = make_table(tmp_path, {"g": {"routes": [{"topic": "u", "handler": "h.handle"}]}}
                                        ).groups["g"]
        runner.routes = newer
        assert all(t.routes() is newer for t in FakeThread.made)

    def test_start_starts_every_thread(self, runner: GroupRunner) -> None:
        """All the group's threads run once started."""
        runner.start()
        assert all(t.started for t in FakeThread.made)

    def test_begin_stop_gives_each_thread_the_deadline_then_signals(self, runner: GroupRunner) -> None:
        """The drain deadline is set on every thread before the stop event, so none drains without it."""
        runner.begin_stop(123.0)
        assert [t.drain_deadline for t in FakeThread.made] == [123.0] * 3 and runner.stop_event.is_set()

    def test_join_says_whether_every_thread_ended_by_the_deadline(self, runner: GroupRunner) -> None:
        """True once all ended; False when one is still running at the deadline (the caller forces the exit)."""
        assert runner.join(time.monotonic() + 1)
        FakeThread.made[1].alive_until = time.monotonic() + 30
        assert not runner.join(time.monotonic() + 0.2)

    def test_join_calls_tick_while_it_waits(self, runner: GroupRunner) -> None:
        """The watchdog keeps running during a long drain: tick at least every half second of the wait."""
        FakeThread.made[0].alive_until = time.monotonic() + 1.2
        ticks: list[float] = []
        assert runner.join(time.monotonic() + 5, tick=lambda: ticks.append(time.monotonic()))
        assert len(ticks) >= 2

    def test_joined_means_every_thread_joined_its_group(self, runner: GroupRunner) -> None:
        """Readiness: every thread has had its partitions assigned once."""
        FakeThread.made[0].joined.set()
        FakeThread.made[1].joined.set()
        assert not runner.joined()
        FakeThread.made[2].joined.set()
        assert runner.joined()
