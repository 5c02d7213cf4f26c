"""The locked pidfile, and stop / reload / status through it (against real processes, not pids made up)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from karafkad.errors import PidfileError
from karafkad.supervision.pidfile import Pidfile, held, read_pid, running_pid


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
