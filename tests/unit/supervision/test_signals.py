"""The signal handler only queues; the main loop reads the queue."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from karafkad.supervision.signals import HANDLED, SignalQueue


@pytest.fixture
def signals() -> Iterator[SignalQueue]:
    queue = SignalQueue()
    queue.install()
    yield queue
    queue.restore()


class TestSignalQueue:
    def test_signals_arrive_in_order(self, signals: SignalQueue) -> None:
        """SIGHUP then SIGTERM sent to the process come out of the queue in that order."""
        os.kill(os.getpid(), signal.SIGHUP)
        os.kill(os.getpid(), signal.SIGTERM)
        assert signals.wait(5) == signal.SIGHUP
        assert signals.wait(5) == signal.SIGTERM

    def test_wait_times_out_with_none(self, signals: SignalQueue) -> None:
        """No signal within the timeout: None (the main loop then does its periodic work)."""
        assert signals.wait(0.01) is None
        assert signals.wait(-1) is None

    def test_put_queues_by_hand(self, signals: SignalQueue) -> None:
        """put() is for tests and forced stops from within; it behaves like a delivered signal."""
        signals.put(signal.SIGINT)
        assert signals.wait(0) == signal.SIGINT

    def test_restore_puts_back_the_previous_handlers(self) -> None:
        """After restore(), SIGTERM/SIGINT/SIGHUP have the handlers they had before install()."""
        before = {sig: signal.getsignal(sig) for sig in HANDLED}
        queue = SignalQueue()
        queue.install()
        assert all(signal.getsignal(sig) == queue._handle for sig in HANDLED)
        queue.restore()
        assert {sig: signal.getsignal(sig) for sig in HANDLED} == before
