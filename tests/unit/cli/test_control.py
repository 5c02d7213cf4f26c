"""`karafkad stop`, `reload` and `status` (cli/control.py) against a real process holding a pidfile."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from waiting import wait_for

from karafkad import defaults
from karafkad.cli import control
from karafkad.supervision.pidfile import Pidfile
from karafkad.web.app import Console, Sources
from karafkad.web.server import HealthServer

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "routes.yaml"
"""A routes file that checks (route tests included)."""


class TestCommands:
    def test_stop_waits_for_the_drain_and_reports_success(
            self, holder: tuple[subprocess.Popen[str], Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
        """`stop` sends SIGTERM and returns 0 only after the process let go of the pidfile."""
        proc, path, _ = holder
        assert control.stop(path, timeout=30) == defaults.EXIT_OK
        assert not path.exists()
        assert proc.wait(10) == 0
        assert f"stopped (pid {proc.pid})" in capsys.readouterr().out

    def test_stop_gives_up_after_its_timeout(
            self, holder: tuple[subprocess.Popen[str], Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
        """A daemon still draining when --timeout runs out: exit 3 and a message; it is not killed."""
        proc, path, _ = holder
        proc.send_signal(signal.SIGSTOP)  # frozen: it cannot act on SIGTERM
        try:
            assert control.stop(path, timeout=0.3) == defaults.EXIT_RUNTIME
            assert "still running" in capsys.readouterr().out
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGCONT)
        assert proc.wait(10) == 0  # the SIGTERM was delivered; it drains once thawed

    @pytest.mark.usefixtures("isolated_imports")
    def test_reload_checks_the_file_then_sends_sighup(self, holder: tuple[subprocess.Popen[str], Path, Path],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
        """`reload` checks the routes file, then delivers SIGHUP to the pid in the pidfile."""
        proc, path, seen = holder
        assert control.reload(path, EXAMPLE) == defaults.EXIT_OK
        wait_for(seen.exists, 10, "the holder saw SIGHUP", interval=0.05)
        assert seen.read_text() == "SIGHUP"
        assert proc.poll() is None
        assert f"{EXAMPLE} checks; reload requested (pid {proc.pid})" in capsys.readouterr().out

    def test_reload_without_a_file_only_sends_sighup(self, holder: tuple[subprocess.Popen[str], Path, Path],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
        """Without -c nothing is checked here (the daemon checks and tests its own file on SIGHUP): a script
        written as `reload --pidfile X` keeps working whatever $KARAFKAD_CONFIG or /etc hold."""
        proc, path, seen = holder
        assert control.reload(path) == defaults.EXIT_OK
        wait_for(seen.exists, 10, "the holder saw SIGHUP", interval=0.05)
        assert seen.read_text() == "SIGHUP"
        said = capsys.readouterr().out.strip()
        assert said == f"karafkad: reload requested (pid {proc.pid}); the log says whether the daemon applied it"

    @pytest.mark.usefixtures("isolated_imports")
    @pytest.mark.parametrize("breakage", ["a broken file", "a failing route test"])
    def test_reload_of_a_file_that_does_not_check_sends_nothing(
            self, breakage: str, holder: tuple[subprocess.Popen[str], Path, Path], tmp_path: Path,
            capsys: pytest.CaptureFixture[str]) -> None:
        """A file `check -q` refuses: its problems printed as check prints them, exit 1, the daemon not signalled."""
        proc, path, seen = holder
        (tmp_path / "handlers").mkdir()
        (tmp_path / "handlers" / "kd_reload_app.py").write_text("def f(params):\n    return params\n")
        handler = "kd_reload_app.no_such_function" if breakage == "a broken file" else "kd_reload_app.f"
        routes = tmp_path / "routes.yaml"
        routes.write_text(f"groups: {{g: {{routes: [{{name: r, topic: t, handler: {handler}, filter: 'params.n > 1', "
                          "on_error: skip}]}}\n")
        routes.with_name("routes_test.yaml").write_text(
            "tests:\n  - {name: small, topic: t, value: {n: 1}, expect: [{route: r, enqueue: {}}]}\n")
        assert control.reload(path, routes) == defaults.EXIT_CONFIG
        err = capsys.readouterr().err
        assert ("has no 'no_such_function'" if breakage == "a broken file" else "FAIL small") in err
        assert f"not reloading: {routes} does not check" in err
        assert not seen.exists()
        assert proc.poll() is None

    @pytest.mark.usefixtures("isolated_imports")
    @pytest.mark.parametrize("command", ["stop", "reload", "status"])
    def test_commands_on_a_stale_pidfile_exit_3(self, command: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
        """stop, reload and status on a pidfile whose daemon was killed say so and exit 3; nobody is signalled."""
        path = tmp_path / "karafkad.pid"
        path.write_text("999999999\n")
        run = {"stop": lambda: control.stop(path, 1), "reload": lambda: control.reload(path, EXAMPLE),
               "status": lambda: control.status(path, None)}[command]
        assert run() == defaults.EXIT_RUNTIME
        assert "stale pidfile" in capsys.readouterr().out

    def test_status_prints_the_groups_from_the_http_port(self, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
        """`status --http-port` adds state, routes file, each group's threads, partitions and routes, and the keys
        held by a failed job."""
        snapshot = {"state": "running", "ready": True, "routes_file": "/etc/karafkad/routes.yaml",
                    "redis": "redis://127.0.0.1:6379/0",
                    "groups": {"billing": {"threads": [{"partitions": ["orders[0]", "orders[1]"]},
                                                       {"partitions": ["orders[2]"]}],
                                           "routes": ["orders", "big-orders"]}},
                    "held_keys": {"keys": [{"key": "a"}, {"key": "b"}]}}
        server = HealthServer("127.0.0.1", 0,
                              Console(Sources(lambda: snapshot, lambda: True, CollectorRegistry())).handle)
        server.start()
        try:
            with Pidfile(tmp_path / "karafkad.pid") as held_file:
                assert control.status(held_file.path, server.port) == defaults.EXIT_OK
        finally:
            server.stop()
        out = capsys.readouterr().out
        assert f"running (pid {os.getpid()})" in out
        assert "state: running, ready: True" in out
        assert "group billing: 2 thread(s), 3 partition(s), routes: orders, big-orders" in out
        assert "held keys: 2, each behind a job that failed for good (karafkad held list)" in out

    def test_status_with_a_dead_http_port_exits_3(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The pid is alive but its HTTP port does not answer: exit 3, with the URL that failed."""
        server = HealthServer("127.0.0.1", 0, Console(Sources(dict, lambda: True, CollectorRegistry())).handle)
        port = server.port
        server.stop()  # bound and closed again: nothing listens there now
        with Pidfile(tmp_path / "karafkad.pid") as held_file:
            assert control.status(held_file.path, port) == defaults.EXIT_RUNTIME
        assert f"http://127.0.0.1:{port}/status.json" in capsys.readouterr().out
