"""Signals become queue entries; the main thread reads them and decides.

As in gunicorn's arbiter: the handler only puts the signal number on a
queue (no logging, no locks, which can deadlock inside a handler), and the
main loop dispatches by name.
"""

from __future__ import annotations

import queue
import signal
from collections.abc import Iterable
from types import FrameType

HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)
"""SIGUSR1 is here too, not with faulthandler.register: faulthandler's C handler walks the other threads' frames
without the GIL while they run, and once crashed the daemon doing it (a segfault inside the dump, seen in a test
run). The main loop dumps the stacks from Python instead, holding the GIL (supervisor.dump_stacks)."""


class SignalQueue:
    """Collects HANDLED signals; the main loop waits on it."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._previous: dict[int, object] = {}

    def install(self, signals: Iterable[int] = HANDLED) -> None:
        for sig in signals:
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._queue.put_nowait(signum)

    def put(self, signum: int) -> None:
        """Queue a signal by hand (tests; a forced stop from within)."""
        self._queue.put_nowait(signum)

    def wait(self, timeout: float) -> int | None:
        """The next signal, or None after `timeout` seconds."""
        try:
            return self._queue.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None
