"""The supervisor: which consumer threads are stalled, what a reload refuses and warns about, and the
operators' pauses it hands to the threads (its main loop: test_main_loop.py).

The rest of the supervisor (start, readiness, applying a reload, drain) is proven against the real broker
and Redis in tests/integration (test_daemon_guarantees, test_process_control, test_forced_shutdown).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
from redis_fakes import FakeRedis
from supervision_fakes import FakeThread, WatchedSupervisor

from karafkad.store import pauses
from karafkad.store.pauses import PauseTarget
from karafkad.supervision.groups import GroupRunner
from karafkad.supervision.supervisor import Supervisor, instance_name
from karafkad.testing.runner import route_test_failures

pytestmark = pytest.mark.usefixtures("isolated_imports")


class TestStalledThreads:
    """A consumer thread whose loop stops coming round is found (the main loop then halts: test_main_loop)."""

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
