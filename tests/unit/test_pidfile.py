"""The locked pidfile, and stop / reload / status through it (against real processes, not pids made up)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from karafkad import defaults, pidfile
from karafkad.errors import PidfileError
from karafkad.health import HealthServer
from karafkad.pidfile import Pidfile, held, read_pid, running_pid

HOLDER = textwrap.dedent("""
    import signal, sys, time
    from pathlib import Path
    from karafkad.pidfile import Pidfile

    seen = Path(sys.argv[2])
    stop = []
    signal.signal(signal.SIGHUP, lambda *_: seen.write_text("SIGHUP"))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with Pidfile(Path(sys.argv[1])):
        print("holding", flush=True)
        while not stop:
            time.sleep(0.05)
        time.sleep(0.3)  # a drain takes a moment; stop must wait for it
""")


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, Path]]:
    """A real process holding tmp_path/karafkad.pid the way the daemon does."""
    path, seen = tmp_path / "karafkad.pid", tmp_path / "seen"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seen)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout is not None
    assert proc.stdout.readline() == "holding\n"
    yield proc, path, seen
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


def _eventually(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


class TestPidfile:
    def test_holds_this_pid_while_entered_and_is_removed_after(self, tmp_path: Path) -> None:
        """Inside the context the file names this process and is locked; afterwards it is gone."""
        path = tmp_path / "run" / "karafkad.pid"
        with Pidfile(path):
            assert read_pid(path) == os.getpid()
            assert held(path)
            assert running_pid(path) == os.getpid()
        assert not path.exists()
        assert not held(path)

    def test_a_second_holder_is_refused(self, tmp_path: Path) -> None:
        """A second acquire on a held pidfile raises PidfileError naming the holder's pid; the file is untouched."""
        path = tmp_path / "karafkad.pid"
        with Pidfile(path), pytest.raises(PidfileError, match=rf"held by a running karafkad \(pid {os.getpid()}\)"):
            Pidfile(path).acquire()
        assert not path.exists()

    def test_a_stale_file_is_recognised_and_reused(self, tmp_path: Path) -> None:
        """A pidfile nobody holds (its daemon was killed) is stale, whatever pid it names; a start reuses it."""
        path = tmp_path / "karafkad.pid"
        path.write_text(f"{os.getpid()}\n")  # a live pid, but no lock: still stale
        with pytest.raises(PidfileError, match="stale pidfile"):
            running_pid(path)
        owner = Pidfile(path)
        owner.acquire()
        assert path.read_text() == ""  # the stale pid is not shown as ours while we start
        with pytest.raises(PidfileError, match="starting"):
            running_pid(path)
        owner.write()
        assert running_pid(path) == os.getpid()
        owner.release()

    def test_closing_one_handle_leaves_the_lock_with_the_other(self, tmp_path: Path) -> None:
        """close() is the forking command's hand-over: the lock stays while the daemon's copy is open."""
        path = tmp_path / "karafkad.pid"
        owner = Pidfile(path)
        owner.acquire()
        daemons_copy = os.dup(owner.fileno())  # what fork gives the child
        owner.close()
        assert path.exists()
        assert held(path)
        os.close(daemons_copy)
        assert not held(path)

    def test_missing_pidfile(self, tmp_path: Path) -> None:
        """No file at all: PidfileError saying so, with the option to pass."""
        with pytest.raises(PidfileError, match="no pidfile"):
            running_pid(tmp_path / "none.pid")


class TestCommands:
    def test_stop_waits_for_the_drain_and_reports_success(
            self, holder: tuple[subprocess.Popen[str], Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
        """`stop` sends SIGTERM and returns 0 only after the process let go of the pidfile."""
        proc, path, _ = holder
        assert pidfile.stop(path, timeout=30) == defaults.EXIT_OK
        assert not path.exists()
        assert proc.wait(10) == 0
        assert f"stopped (pid {proc.pid})" in capsys.readouterr().out

    def test_stop_gives_up_after_its_timeout(
            self, holder: tuple[subprocess.Popen[str], Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
        """A daemon still draining when --timeout runs out: exit 3 and a message; it is not killed."""
        proc, path, _ = holder
        proc.send_signal(signal.SIGSTOP)  # frozen: it cannot act on SIGTERM
        try:
            assert pidfile.stop(path, timeout=0.3) == defaults.EXIT_RUNTIME
            assert "still running" in capsys.readouterr().out
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGCONT)
        assert proc.wait(10) == 0  # the SIGTERM was delivered; it drains once thawed

    def test_reload_sends_sighup(self, holder: tuple[subprocess.Popen[str], Path, Path]) -> None:
        """`reload` delivers SIGHUP to the pid in the pidfile."""
        proc, path, seen = holder
        assert pidfile.reload(path) == defaults.EXIT_OK
        _eventually(seen.exists)
        assert seen.read_text() == "SIGHUP"
        assert proc.poll() is None

    @pytest.mark.parametrize("command", ["stop", "reload", "status"])
    def test_commands_on_a_stale_pidfile_exit_3(self, command: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
        """stop, reload and status on a pidfile whose daemon was killed say so and exit 3; nobody is signalled."""
        path = tmp_path / "karafkad.pid"
        path.write_text("999999999\n")
        run = {"stop": lambda: pidfile.stop(path, 1), "reload": lambda: pidfile.reload(path),
               "status": lambda: pidfile.status(path, None)}[command]
        assert run() == defaults.EXIT_RUNTIME
        assert "stale pidfile" in capsys.readouterr().out

    def test_status_prints_the_groups_from_the_http_port(self, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
        """`status --http-port` adds state, routes file and each group's threads, partitions and routes."""
        snapshot = {"state": "running", "ready": True, "routes_file": "/etc/karafkad/routes.yaml",
                    "redis": "redis://127.0.0.1:6379/0",
                    "groups": {"billing": {"threads": [{"partitions": ["orders[0]", "orders[1]"]},
                                                       {"partitions": ["orders[2]"]}],
                                           "routes": ["orders", "big-orders"]}}}
        server = HealthServer("127.0.0.1", 0, ready=lambda: True, status=lambda: snapshot,
                              registry=CollectorRegistry())
        server.start()
        try:
            with Pidfile(tmp_path / "karafkad.pid") as held_file:
                assert pidfile.status(held_file.path, server.port) == defaults.EXIT_OK
        finally:
            server.stop()
        out = capsys.readouterr().out
        assert f"running (pid {os.getpid()})" in out
        assert "state: running, ready: True" in out
        assert "group billing: 2 thread(s), 3 partition(s), routes: orders, big-orders" in out

    def test_status_with_a_dead_http_port_exits_3(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The pid is alive but its HTTP port does not answer: exit 3, with the URL that failed."""
        server = HealthServer("127.0.0.1", 0, ready=lambda: True, status=dict, registry=CollectorRegistry())
        port = server.port
        server.stop()  # bound and closed again: nothing listens there now
        with Pidfile(tmp_path / "karafkad.pid") as held_file:
            assert pidfile.status(held_file.path, port) == defaults.EXIT_RUNTIME
        assert f"http://127.0.0.1:{port}/status.json" in capsys.readouterr().out
