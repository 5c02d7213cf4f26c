"""The main loop: the stall watchdog (a consumer thread that no longer comes round stops the daemon, exit 3),
SIGUSR1's stacks, a consumer stopped for good, and the repeated signal a drain ignores.

The rest (start, readiness, reload and drain against the real broker and Redis) is proven in tests/integration
(test_daemon_guarantees, test_process_control, test_forced_shutdown).
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
import structlog
from supervision_fakes import FakeThread, WatchedSupervisor

from karafkad import defaults
from karafkad.errors import HaltServer
from karafkad.supervision.main_loop import serve
from karafkad.supervision.signals import SignalQueue
from karafkad.supervision.supervisor import Supervisor
from karafkad.supervision.systemd import Notifier

pytestmark = pytest.mark.usefixtures("isolated_imports")


class TestWatchdog:
    """A consumer thread whose loop stops coming round is found, and the daemon exits rather than hang."""

    def test_serve_exits_3_with_the_stacks_when_a_consumer_thread_is_stuck(self, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch,
                                                                           capfd: pytest.CaptureFixture[str]) -> None:
        """The main loop notices within a tick, logs which thread, dumps every stack, and halts with exit 3."""
        monkeypatch.setattr(defaults, "STALL_SECONDS", 0.5)
        last_progress = time.monotonic()  # the watchdog counts from here, not from when serve starts
        stuck = FakeThread("consumer-g-0", progressed_at=last_progress)
        watched = WatchedSupervisor(tmp_path, [stuck])
        with structlog.testing.capture_logs() as logs, pytest.raises(HaltServer) as halted:
            serve(watched, tmp_path / "routes.yaml", SignalQueue(), Notifier(environ={}))
        assert halted.value.exit_status == defaults.EXIT_RUNTIME
        assert "consumer-g-0" in halted.value.reason
        assert 0.5 <= time.monotonic() - last_progress < 5
        [report] = [e for e in logs if e["event"].startswith("consumer thread stuck")]
        assert report["threads"] == ["consumer-g-0"]
        assert "most recent call first" in capfd.readouterr().err  # faulthandler's stack dump

    def test_serve_drains_and_exits_1_when_a_consumer_stopped_for_good(self, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
        """A static member fenced by another process: the others drain, the exit is 1 (systemd does not restart it)."""
        fenced = FakeThread("consumer-g-0", fatal="another process joined group 'g' with this member's instance id")
        watched = WatchedSupervisor(tmp_path, [fenced])
        monkeypatch.setattr(Supervisor, "begin_drain", lambda self, timeout: time.monotonic() + timeout)
        monkeypatch.setattr(Supervisor, "drained", lambda self: True)
        monkeypatch.setattr(Supervisor, "abandoned", lambda self: False)
        monkeypatch.setattr(Supervisor, "close", lambda self: None)
        with structlog.testing.capture_logs() as logs:
            assert serve(watched, tmp_path / "routes.yaml", SignalQueue(), Notifier(environ={})) == defaults.EXIT_CONFIG
        [report] = [e for e in logs if "reason" in e]
        assert "instance id" in report["reason"]

    def test_sigusr1_writes_every_stack_to_the_log_stream_and_serving_goes_on(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """SIGUSR1 is one of the main loop's signals: it says so in the log, dumps every thread's stack (this
        one's included) to the stream serve was given, and the loop goes on to the next signal."""
        watched = WatchedSupervisor(tmp_path, [FakeThread("consumer-g-0")])
        monkeypatch.setattr(Supervisor, "begin_drain", lambda self, timeout: time.monotonic() + timeout)
        monkeypatch.setattr(Supervisor, "drained", lambda self: True)
        monkeypatch.setattr(Supervisor, "abandoned", lambda self: False)
        monkeypatch.setattr(Supervisor, "close", lambda self: None)
        signals = SignalQueue()
        signals.put(signal.SIGUSR1)
        signals.put(signal.SIGTERM)
        with open(tmp_path / "log", "w") as stream, structlog.testing.capture_logs() as logs:
            assert serve(watched, tmp_path / "routes.yaml", signals, Notifier(environ={}),
                         stacks=stream) == defaults.EXIT_OK
        written = (tmp_path / "log").read_text()
        assert "most recent call first" in written and "in serve" in written
        assert [e["event"] for e in logs if "SIGUSR1" in e["event"]] == [
            "SIGUSR1: every thread's stack follows (nothing else changes)"]
        assert any(e["event"] == "stopped cleanly" for e in logs)

    def test_serve_keeps_running_while_threads_come_round(self, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
        """Threads that keep coming round are never taken for stuck: serve runs until a signal."""
        monkeypatch.setattr(defaults, "STALL_SECONDS", 0.5)
        thread = FakeThread("consumer-g-0")
        watched = WatchedSupervisor(tmp_path, [thread])
        signals = SignalQueue()
        monkeypatch.setattr(Supervisor, "begin_drain", lambda self, timeout: time.monotonic() + timeout)
        monkeypatch.setattr(Supervisor, "drained", lambda self: True)
        monkeypatch.setattr(Supervisor, "abandoned", lambda self: False)
        monkeypatch.setattr(Supervisor, "close", lambda self: None)

        served = threading.Event()

        def loop_coming_round() -> None:
            stop_at = time.monotonic() + 2  # four times the stall limit
            while not served.is_set():
                thread.progressed_at = time.monotonic()
                if time.monotonic() >= stop_at:
                    signals.put(signal.SIGTERM)
                    stop_at = float("inf")
                time.sleep(0.05)

        threading.Thread(target=loop_coming_round, daemon=True).start()
        try:
            with structlog.testing.capture_logs() as logs:
                assert serve(watched, tmp_path / "routes.yaml", signals, Notifier(environ={})) == defaults.EXIT_OK
        finally:
            served.set()
        assert not [e for e in logs if e["event"].startswith("consumer thread stuck")]


# --- reload -----------------------------------------------------------------


class TestSignals:
    def test_a_repeated_sigterm_within_the_window_is_logged_and_the_drain_goes_on(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """One SIGTERM delivered twice (a terminal, a process manager) is no forced exit, and the log says why."""
        watched = WatchedSupervisor(tmp_path, [FakeThread("consumer-g-0")])
        signals = SignalQueue()
        signals.put(signal.SIGTERM)
        signals.put(signal.SIGTERM)  # at once: well within defaults.SIGNAL_REPEAT_IGNORE of the first
        polls: list[int] = []

        def drained(self: Supervisor) -> bool:
            polls.append(1)
            return len(polls) > 1  # after one turn of the drain loop, which reads the second SIGTERM

        monkeypatch.setattr(Supervisor, "begin_drain", lambda self, timeout: time.monotonic() + timeout)
        monkeypatch.setattr(Supervisor, "drained", drained)
        monkeypatch.setattr(Supervisor, "abandoned", lambda self: False)
        monkeypatch.setattr(Supervisor, "close", lambda self: None)
        with structlog.testing.capture_logs() as logs:
            assert serve(watched, tmp_path / "routes.yaml", signals, Notifier(environ={})) == defaults.EXIT_OK
        [ignored] = [e for e in logs if e["event"].startswith("ignored a repeated SIGTERM")]
        assert ignored["log_level"] == "info"
        assert "within 1 s of the first" in ignored["event"] and "send it again" in ignored["event"]
