"""What a daemon tells the deployment's consoles: its status snapshot, and its share of the history.

Both run as maintenance chores (supervision/maintenance.py), on the
maintenance thread: never on a consumer thread, never on the main thread.
`publish` writes the status board's snapshot (store/instances.py) every few
seconds, and once more at the end of a drain (saying the daemon stopped);
`sample` adds the daemon's counts and readings to the history
(store/history.py): per group, messages consumed, jobs enqueued, dead letters
and lag; per RQ queue, its depth.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from redis import Redis

from karafkad.store import history, instances
from karafkad.web.board import Readings, StatusBoard

UNPUBLISHED = ("operations",)
"""Snapshot parts not published: the operator events are the deployment's, read from Redis by each console."""


class Publisher:
    """Publishes one daemon's snapshot and history samples to the top-level Redis."""

    def __init__(self, client: Redis[bytes], board: StatusBoard, name: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.board = board
        self.name = name
        self.clock = clock
        self.writer = history.HistoryWriter()

    def publish(self) -> None:
        """Write the snapshot (it expires unless written again); raises what redis-py raises."""
        snapshot = {k: v for k, v in self.board.snapshot().items() if k not in UNPUBLISHED}
        instances.publish(self.client, self.name, snapshot, self.clock())

    def sample(self) -> None:
        """Add this daemon's numbers to the history; raises what redis-py raises."""
        self.writer.write(self.client, self.numbers(), self.clock())

    def numbers(self) -> history.Sample:
        """The daemon's counters and readings now, named as history series."""
        readings = Readings.read(self.board.metrics)
        counters: dict[str, int] = {}
        per_group: list[tuple[str, dict[tuple[str, str], Any], bool]] = [
            ("consumed", readings.consumed, False), ("enqueued", readings.enqueued, False),
            ("dead_lettered", readings.dead_lettered, True)]
        for what, values, by_kind in per_group:
            for (group, _), value in values.items():
                name = history.series_name("group", group, what)
                amount = sum(value.values()) if by_kind else value
                counters[name] = counters.get(name, 0) + round(amount)
        lags: dict[str, int] = {}
        for group in self.groups():
            lags[history.series_name("group", group, "lag")] = 0
        for (group, _, _), lag in readings.lag.items():
            name = history.series_name("group", group, "lag")
            lags[name] = lags.get(name, 0) + round(lag)
        status = self.board.status()
        queues = sorted({r["queue"] for r in status.get("routes", [])})
        depths, _ = self.board.depths.get(queues)
        shared = {history.series_name("queue", q, "depth"): n for q, n in (depths or {}).items()}
        return history.Sample(counters, lags, shared)

    def groups(self) -> list[str]:
        """The groups this daemon runs (each has a lag series, 0 while it has no partition)."""
        return list(self.board.status().get("groups", {}))
