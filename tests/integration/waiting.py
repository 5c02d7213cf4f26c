"""Waiting for a condition, for every test and script that must: one loop, one message when it times out.

It lives beside the integration harness (which re-exports it) so that the
scripts that import the harness (scripts/chaos.py) find it too; it needs no
service, so the unit tests use it as well (pytest puts both test folders on
the path).
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], object], timeout: float, what: str | Callable[[], str],
             interval: float = 0.2) -> None:
    """Return once `condition()` is true; AssertionError naming `what` when it is still false after `timeout` s
    (or what `what()` says then: the state a test that waited too long wants to show).

    Asked every `interval` s, and once more after the deadline passed, so a condition that came true
    during the last sleep still counts."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {what() if callable(what) else what}")
        time.sleep(interval)
