"""The daemon's periodic Redis chores, on a thread of their own: off the consumer threads' path, and off the
main thread, which only answers signals and watches.

The chores, each at its own interval:
- moving the jobs RQ marked ready onto their queues (store/ready.py), every READY_INTERVAL, for every Redis
  that has a queue of an ordered route;
- reading the operators' pauses (store/pauses.py), every PAUSES_INTERVAL, for the consumer threads to obey
  (the supervisor adds it);
- publishing the daemon's status for the deployment's consoles (store/instances.py), every PUBLISH_INTERVAL,
  and sampling its numbers into the history (store/history.py), every HISTORY_INTERVAL (`karafkad start`
  adds them: they read the status board of the web floor).
A chore that fails (a Redis that does not answer) is tried again at its next turn; it is logged when it starts
failing and when it works again, not at every turn. Nothing here is lost by waiting: RQ's own cleanup moves
ready jobs later, the consumers keep the last pauses read, a console shows an instance gone while it cannot
publish.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from karafkad.errors import EnqueueError
from karafkad.observability import get_logger
from karafkad.supervision.redises import RedisLink

log = get_logger(__name__)

READY_INTERVAL = 0.1
"""Seconds between two moves of ready jobs: a key's next job waits at most this long when RQ left it in the
ready registry (one script call per ordered queue: ~0.1 ms of Redis when the registry is empty)."""
PAUSES_INTERVAL = 0.1
"""Seconds between two reads of the operators' pauses: a pause reaches every consumer thread within this and
one poll (POLL_TIMEOUT_MS, and under load a poll returns at once), well under the second the console promises
(measured: the consumers' counters stand still 0.3 to 0.9 s after the pause is written, the batches in flight
written meanwhile); one HGETALL of a small hash, as often as the ready-jobs chore already runs."""
PUBLISH_INTERVAL = 3.0
"""Seconds between two publications of the daemon's status: the consoles' view of the deployment is at most
this old (their own daemon's part is always fresh), and a snapshot expires after store/instances.SNAPSHOT_TTL."""
HISTORY_INTERVAL = 5.0
"""Seconds between two samples of the daemon's numbers into the history: two per history step
(store/history.STEP), so that every step holds the daemon's share even when a turn comes late."""
STOP_WAIT = 2.0
"""Seconds stop() waits for a chore in progress before running the final ones."""


@dataclass
class Chore:
    """One periodic job of the maintenance thread."""

    name: str
    interval: float
    run: Callable[[], None]
    final: bool = False
    """Also run once when the thread stops (the last publication, saying the daemon stopped)."""
    due: float = 0.0
    """Monotonic time of its next turn."""
    failing: bool = False


class Maintenance(threading.Thread):
    """Runs the periodic chores until stopped."""

    def __init__(self, links: Callable[[], Sequence[RedisLink]], interval: float = READY_INTERVAL) -> None:
        """`links` gives the daemon's Redis links as they are now (a reload may add one)."""
        super().__init__(name="maintenance", daemon=True)
        self.links = links
        self.tick = interval
        self.stopped = threading.Event()
        self.moved = 0
        """Ready jobs moved onto their queues so far."""
        self.chores: list[Chore] = [Chore("ready jobs", interval, self.move_ready)]

    def add(self, name: str, interval: float, run: Callable[[], None], *, final: bool = False) -> None:
        """Run `run` every `interval` seconds (and once more at stop, if `final`); before start()."""
        self.chores.append(Chore(name, interval, run, final))
        self.tick = min(self.tick, interval)

    def run(self) -> None:
        while not self.stopped.wait(self.tick):
            self.turn()

    def turn(self) -> None:
        """One round: every chore that is due."""
        for chore in self.chores:
            now = time.monotonic()
            if now >= chore.due:
                chore.due = now + chore.interval
                self._run(chore)

    @staticmethod
    def _run(chore: Chore) -> None:
        try:
            chore.run()
        except Exception as exc:  # a chore must never end the thread: the others go on
            if not chore.failing:
                log.warning("a maintenance chore failed; trying again at each turn", chore=chore.name,
                            error=f"{type(exc).__name__}: {exc}")
            chore.failing = True
            return
        if chore.failing:
            log.info("a maintenance chore works again", chore=chore.name)
            chore.failing = False

    def move_ready(self) -> None:
        """Move the ready jobs of every Redis with ordered queues (one that does not answer waits for the next
        turn)."""
        for link in self.links():
            if not link.ordered_queues:
                continue
            try:
                self.moved += link.ready.release(link.ordered_queues)
            except EnqueueError as exc:
                log.debug("cannot move ready jobs now", error=str(exc))

    def stop(self) -> None:
        """Stop the turns, then run the final chores once, in the caller's thread."""
        self.stopped.set()
        if self.is_alive():
            self.join(STOP_WAIT)
        for chore in self.chores:
            if chore.final:
                self._run(chore)
