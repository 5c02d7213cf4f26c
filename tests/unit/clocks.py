"""A clock the test moves: for the units that take `clock=` (call it) or read `time.monotonic()` (put it in place of
their `time` module)."""

from __future__ import annotations


class Clock:
    """Seconds that change only when a test sets or adds to `now`."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:
        """As time.monotonic, for a module whose `time` a test replaces with this clock."""
        return self.now
