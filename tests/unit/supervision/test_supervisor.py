"""The supervisor's stall watchdog (a consumer thread that no longer comes round stops the daemon, exit 3),
what a reload refuses and warns about, and the repeated signal a drain ignores.

The rest of the supervisor (start, readiness, applying a reload, drain) is proven against the real broker
and Redis in tests/integration (test_daemon_guarantees, test_process_control, test_forced_shutdown).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog
from redis import Redis
from redis_fakes import FakeRedis
from tables import make_table

from karafkad import defaults
from karafkad.errors import HaltServer
from karafkad.store import pauses
from karafkad.store.pauses import PauseTarget
from karafkad.supervision.groups import GroupRunner
from karafkad.supervision.signals import SignalQueue
from karafkad.supervision.supervisor import Supervisor, instance_name, serve
from karafkad.supervision.systemd import Notifier
from karafkad.testing.runner import route_test_failures

pytestmark = pytest.mark.usefixtures("isolated_imports")


@dataclass
class FakeThread:
    """What the watchdog reads of a ConsumerThread."""

    name: str
    progressed_at: float = field(default_factory=time.monotonic)
    alive: bool = True
    joined: Any = None
    fatal: str | None = None

    def is_alive(self) -> bool:
        return self.alive


class FakeRunner:
    def __init__(self, threads: list[FakeThread]) -> None:
        self.threads = threads

    def joined(self) -> bool:
        return True


class WatchedSupervisor(Supervisor):
    """A Supervisor whose groups are fake threads (no Kafka): start() installs them."""

    def __init__(self, tmp_path: Path, threads: list[FakeThread]) -> None:
        table = make_table(tmp_path, {"g": {"routes": [{"name": "r", "topic": "t", "handler": "h.handle"}]}})
        # Never connected to: start() and redis_reachable() are replaced.
        super().__init__(table, redis_client=Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.2))
        self.fake_threads = threads

    def start(self) -> None:
        self.runners = {"g": FakeRunner(self.fake_threads)}  # type: ignore[dict-item]

    def redis_reachable(self) -> bool:
        return True


class TestWatchdog:
    """A consumer thread whose loop stops coming round is found, and the daemon exits rather than hang."""

    def test_a_thread_whose_loop_has_not_come_round_is_stalled_and_unhealthy(self, tmp_path: Path) -> None:
        """A thread whose loop last came round longer ago than the limit is stalled and the daemon unhealthy,
        until it comes round again."""
        now = time.monotonic()
        stuck = FakeThread("consumer-g-0", progressed_at=now - 200)
        fine = FakeThread("consumer-g-1", progressed_at=now - 1)
        watched = WatchedSupervisor(tmp_path, [stuck, fine])
        watched.start()
        assert watched.stalled(120) == ["consumer-g-0"]
        assert not watched.healthy()  # so no WATCHDOG=1: systemd's watchdog would restart it too
        stuck.progressed_at = time.monotonic()
        assert watched.stalled(120) == []
        assert watched.healthy()

    def test_a_dead_thread_is_not_called_stalled(self, tmp_path: Path) -> None:
        """A thread that ended is reported by healthy() as dead, not as stuck."""
        gone = FakeThread("consumer-g-0", progressed_at=time.monotonic() - 500, alive=False)
        watched = WatchedSupervisor(tmp_path, [gone])
        watched.start()
        assert watched.stalled(120) == []
        assert not watched.healthy()

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


def _edit(routes: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the routes file make_table wrote (JSON, which is YAML)."""
    document = json.loads(routes.read_text())
    change(document)
    routes.write_text(json.dumps(document))


def _handler_module(watched: Supervisor) -> str:
    return watched.table.routes[0].handler.module


class TestReload:
    def test_a_table_the_vet_refuses_is_rejected_and_the_running_routes_stay(self, tmp_path: Path) -> None:
        """Like a broken file: logged as rejected with the vet's lines, the old table and its modules kept."""
        watched = WatchedSupervisor(tmp_path, [])
        old, module = watched.table, _handler_module(watched)
        loaded = sys.modules[module]
        vetted: list[Any] = []

        def vet(path: Path, table: Any, between: Any) -> list[str]:
            vetted.append(table)
            return ["routes_test.yaml:3: route test 'small' failed: ..."]

        watched.vet = vet
        with structlog.testing.capture_logs() as logs:
            assert watched.reload(tmp_path / "routes.yaml") is False
        assert watched.table is old
        assert vetted and vetted[0] is not old  # the new file's own table was vetted
        assert sys.modules[module] is loaded  # not the rejected file's fresh import
        [rejected] = [e for e in logs if e["event"] == "reload rejected; keeping the current routes"]
        assert rejected["problems"] == ["routes_test.yaml:3: route test 'small' failed: ..."]
        assert watched.metrics.reloads.labels("rejected")._value.get() == 1

    def test_a_file_whose_route_tests_fail_is_rejected_naming_the_test(self, tmp_path: Path) -> None:
        """With the route tests as the vet (as `karafkad start` wires it): a filter change that breaks a test."""
        watched = WatchedSupervisor(tmp_path, [])
        watched.vet = route_test_failures
        routes = tmp_path / "routes.yaml"
        (tmp_path / "routes_test.yaml").write_text(
            "tests:\n  - {name: one is enqueued, topic: t, value: {n: 1}, expect: [{route: r, enqueue: {}}]}\n")
        assert route_test_failures(routes, watched.table) == []  # they pass on the running file
        _edit(routes, lambda d: d["groups"]["g"]["routes"][0].update(filter="params.n > 1"))
        with structlog.testing.capture_logs() as logs:
            assert watched.reload(routes) is False
        [rejected] = [e for e in logs if e["event"] == "reload rejected; keeping the current routes"]
        [line] = rejected["problems"]
        assert line.startswith(f"{tmp_path / 'routes_test.yaml'}:2: route test 'one is enqueued' failed")
        assert watched.table.routes[0].spec.filter is None

    def test_restart_only_changes_are_named_by_key(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The warning names the keys that changed in kafka, redis and daemon (their values may be secrets)."""
        monkeypatch.setattr(GroupRunner, "start", lambda self: None)  # no consumer threads: no Kafka here
        watched = WatchedSupervisor(tmp_path, [])
        routes = tmp_path / "routes.yaml"

        def change(document: dict[str, Any]) -> None:
            document["daemon"] = {"http_port": 9999}
            document["kafka"] = {"client_id": "other", "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
                                 "sasl_plain_username": "app", "sasl_plain_password": "s3cret-value"}

        _edit(routes, change)
        with structlog.testing.capture_logs() as logs:
            assert watched.reload(routes) is True
        warned = {e["section"]: e["keys"] for e in logs
                  if e["event"] == "reload: this section changed but applies only on restart"}
        assert warned == {"daemon": ["http_port"], "kafka": ["client_id", "sasl_mechanism", "sasl_plain_password",
                                                             "sasl_plain_username", "security_protocol"]}
        assert "s3cret-value" not in str(logs)


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


class TestOperatorPauses:
    def test_the_pauses_read_are_handed_to_the_threads_and_shown_in_the_status(self, tmp_path: Path) -> None:
        """read_pauses (a maintenance chore) reads the hash; the consumer threads see a new version, the status
        names who paused what; a Redis that cannot be read keeps the pauses read last."""
        watched = WatchedSupervisor(tmp_path, [])
        client = FakeRedis()
        watched.redis = client  # type: ignore[assignment]
        pauses.pause(client, PauseTarget("g", route="r"), "ops", 5.0)  # type: ignore[arg-type]
        watched.read_pauses()
        assert watched.services.pauses.targets == {PauseTarget("g", route="r")}
        status = watched.status()
        assert status["pauses"] == [{"group": "g", "route": "r", "topic": None, "partition": None, "who": "ops",
                                     "at": 5.0}]
        assert status["instance"]["name"]
        client.fail = ConnectionError("down")  # type: ignore[assignment]
        with pytest.raises(ConnectionError):
            watched.read_pauses()
        assert watched.services.pauses.targets == {PauseTarget("g", route="r")}

    def test_the_instance_is_named_by_its_instance_id_else_host_and_pid(self) -> None:
        """The instance is named by its instance id else host and pid."""
        assert instance_name({"KARAFKAD_INSTANCE_ID": "web-1"}) == "web-1"
        assert instance_name({}).endswith(f"-{os.getpid()}")
