"""The daemon's periodic Redis chores, on a thread of their own: off the consumer threads' path, and off the
main thread, which only answers signals and watches.

Today one chore: moving the jobs RQ marked ready onto their queues (store/ready.py), every READY_INTERVAL,
for every Redis that has a queue of an ordered route. A Redis that does not answer is skipped until it does
(the consumer threads report Redis outages; nothing here is lost by waiting: RQ's own cleanup moves the jobs
later).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from karafkad.errors import EnqueueError
from karafkad.observability import get_logger
from karafkad.supervision.redises import RedisLink

log = get_logger(__name__)

READY_INTERVAL = 0.1
"""Seconds between two moves of ready jobs: a key's next job waits at most this long when RQ left it in the
ready registry (one script call per ordered queue: ~0.1 ms of Redis when the registry is empty)."""


class Maintenance(threading.Thread):
    """Runs the periodic chores until stopped."""

    def __init__(self, links: Callable[[], Sequence[RedisLink]], interval: float = READY_INTERVAL) -> None:
        """`links` gives the daemon's Redis links as they are now (a reload may add one)."""
        super().__init__(name="maintenance", daemon=True)
        self.links = links
        self.interval = interval
        self.stopped = threading.Event()
        self.moved = 0
        """Ready jobs moved onto their queues so far."""

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.turn()

    def turn(self) -> None:
        """One round of chores."""
        for link in self.links():
            if not link.ordered_queues:
                continue
            try:
                self.moved += link.ready.release(link.ordered_queues)
            except EnqueueError as exc:
                log.debug("cannot move ready jobs now", error=str(exc))

    def stop(self) -> None:
        self.stopped.set()
