"""`karafkad start` up to the supervisor: refusals, exit codes, and the daemonize report pipe.

The full start (with Kafka, Redis, --daemonize and systemd notifications) is
tests/integration/test_process_control.py; these are the paths that end
before anything connects.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from karafkad import defaults
from karafkad.cli import start as run
from karafkad.cli.parser import build_parser
from karafkad.supervision.pidfile import Pidfile
from karafkad.supervision.signals import HANDLED
from karafkad.web.app import Console, Sources
from karafkad.web.server import HealthServer

HANDLERS = Path(__file__).resolve().parents[2] / "fixtures" / "handlers"


@pytest.fixture
def routes(tmp_path: Path) -> Path:
    """A valid routes file whose Kafka and Redis are never reached by these tests."""
    path = tmp_path / "routes.yaml"
    path.write_text(json.dumps({
        "kafka": {"bootstrap_servers": "127.0.0.1:1"},
        "redis": {"url": "redis://127.0.0.1:1/0"},
        "plugins": {"paths": [str(HANDLERS)]},
        "groups": {"g": {"routes": [{"topic": "t", "handler": "effects.record"}]}},
    }))
    return path


def start(*argv: str) -> int:
    return run.run(build_parser().parse_args(["start", *argv]))


class TestStartRefusals:
    def test_invalid_routes_file_exits_1_with_the_problem(self, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
        """A routes file that does not check: exit 1 (systemd does not restart on it), the file named."""
        bad = tmp_path / "routes.yaml"
        bad.write_text("groups: [not, a, mapping]\n")
        assert start("-c", str(bad)) == defaults.EXIT_CONFIG
        captured = capsys.readouterr()
        assert str(bad) in captured.out + captured.err

    def test_a_failing_route_test_refuses_the_start_with_exit_1(self, routes: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
        """routes_test.yaml beside the file fails: refused as `check` refuses it, one line per failed test,
        before anything starts (even with --daemonize)."""
        tests = routes.with_name("routes_test.yaml")
        tests.write_text("tests:\n"
                         "  - {name: passes, topic: t, value: {n: 1}, expect: [{route: t->effects.record, "
                         "enqueue: {}}]}\n"
                         "  - {name: wrong queue, topic: t, value: {n: 2}, expect: [{route: t->effects.record, "
                         "enqueue: {queue: elsewhere}}]}\n"
                         "  - {name: no such route, topic: t, value: {n: 3}, expect: [{route: nope, enqueue: {}}]}\n")

        def never(*args: object) -> int:
            raise AssertionError("the daemon was started")

        monkeypatch.setattr(run, "serve", never)
        monkeypatch.setattr(run, "_daemonize", never)
        for extra in ([], ["--daemonize", "--pidfile", str(routes.with_name("karafkad.pid"))]):
            assert start("-c", str(routes), *extra) == defaults.EXIT_CONFIG
            lines = capsys.readouterr().err.splitlines()
            assert [line.split(" failed: ")[0] for line in lines] == [
                f"karafkad: cannot start: {tests}:3: route test 'wrong queue'",
                f"karafkad: cannot start: {tests}:4: route test 'no such route'"]
            assert "no route 'nope' consumes topic 't'" in lines[1]

    def test_daemonize_needs_a_pidfile(self, routes: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--daemonize without --pidfile is an argument error (exit 1): stop/status could never find it."""
        assert start("-c", str(routes), "--daemonize") == defaults.EXIT_CONFIG
        assert "--daemonize needs --pidfile" in capsys.readouterr().err

    def test_a_held_pidfile_exits_3_before_anything_starts(self, routes: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
        """Another karafkad holds the pidfile: exit 3 at once, the holder's file untouched."""
        path = tmp_path / "karafkad.pid"
        with Pidfile(path):
            for extra in ([], ["--daemonize"]):  # refused before forking, too
                assert start("-c", str(routes), "--pidfile", str(path), *extra) == defaults.EXIT_RUNTIME
                assert "held by a running karafkad" in capsys.readouterr().err
            assert path.read_text() == f"{os.getpid()}\n"

    def test_a_taken_http_port_exits_3_and_cleans_up(self, routes: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
        """HTTP port in use: exit 3 with the reason logged; pidfile removed, signal handlers put back."""
        before = {sig: signal.getsignal(sig) for sig in HANDLED}
        taken = HealthServer("127.0.0.1", 0, Console(Sources(dict, lambda: True, CollectorRegistry())).handle)
        path = tmp_path / "karafkad.pid"
        try:
            code = start("-c", str(routes), "--pidfile", str(path), "--http-port", str(taken.port),
                         "--log-format", "json")
        finally:
            taken.stop()
        assert code == defaults.EXIT_RUNTIME
        assert '"event": "cannot serve HTTP"' in capsys.readouterr().err
        assert not path.exists()
        assert {sig: signal.getsignal(sig) for sig in HANDLED} == before

    def test_a_crash_exits_3_not_1(self, routes: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
        """An unexpected exception is logged with its traceback and exits 3: exit 1 would stop systemd's restart."""
        def crash(*args: object, **kwargs: object) -> int:
            raise RuntimeError("boom")

        monkeypatch.setattr(run, "serve", crash)
        assert start("-c", str(routes), "--log-format", "json") == defaults.EXIT_RUNTIME
        err = capsys.readouterr().err
        assert '"event": "crashed"' in err
        assert "RuntimeError: boom" in err

    def test_log_file_gets_the_logs(self, routes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """--log-file in the foreground: the log lines go to that file (appended), as JSON when asked."""
        monkeypatch.setattr(run, "serve", lambda *args, **kwargs: defaults.EXIT_OK)
        log_file = tmp_path / "karafkad.log"
        log_file.write_text("earlier line\n")
        assert start("-c", str(routes), "--log-file", str(log_file), "--log-format", "json",
                     "--http-port", "0") == defaults.EXIT_OK
        lines = log_file.read_text().splitlines()
        assert lines[0] == "earlier line"
        assert any(json.loads(line)["event"] == "HTTP endpoints" for line in lines[1:])


class TestDaemonizeReport:
    """The pipe between `start --daemonize` and the daemon it detached."""

    def _report(self, line: bytes | None, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        read_end, write_end = os.pipe()
        if line is not None:
            os.write(write_end, line)
        os.close(write_end)
        code = run._await_report(read_end, Path("/var/log/karafkad.log"))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    def test_started(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`started PID`: exit 0, the pid and the log file printed."""
        code, out = self._report(b"started 4242\n", capsys)
        assert code == defaults.EXIT_OK
        assert "started (pid 4242), logging to /var/log/karafkad.log" in out

    def test_exited_passes_the_daemons_status_on(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`exited 3`: the command exits 3 too, pointing at the log."""
        code, out = self._report(b"exited 3\n", capsys)
        assert code == defaults.EXIT_RUNTIME
        assert "exited with status 3" in out
        assert "/var/log/karafkad.log" in out

    @pytest.mark.parametrize("line", [None, b"", b"nonsense\n"], ids=["closed", "empty", "garbage"])
    def test_silence_is_a_failure(self, line: bytes | None, capsys: pytest.CaptureFixture[str]) -> None:
        """The daemon died without a word (or said something unreadable): exit 3."""
        code, out = self._report(line, capsys)
        assert code == defaults.EXIT_RUNTIME
        assert "gave no report" in out

    def test_report_sends_one_line_only(self) -> None:
        """After `started`, a later `exited` is not sent: the command has already returned."""
        read_end, write_end = os.pipe()
        report = run._Report(write_end)
        report.started()
        report.exited(3)
        with os.fdopen(read_end, "rb") as pipe:
            assert pipe.read() == f"started {os.getpid()}\n".encode()
