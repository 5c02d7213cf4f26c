"""The pidfile of `start --pidfile`: locked while the daemon runs, so it can be found and stale ones told apart.

The file is locked (flock) for the daemon's whole life, so a second daemon on
the same pidfile is refused, and a stale file (left by kill -9) is recognised:
nobody holds its lock, whatever pid it names. An flock belongs to the open
file, not to a process, so `start --daemonize` can take the lock before it
forks (and refuse at once, with exit 3) and hand it to the daemon it detaches.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from karafkad.errors import PidfileError

LOCK_ATTEMPTS = 5
"""Tries to lock a pidfile before giving up: `status` and `stop` take a
shared lock for an instant to test the file, which must not make a start
that happens at the same moment fail."""


class Pidfile:
    """A locked pidfile: acquire (lock), write (this process's pid), release (remove).

    As a context manager it does all three, for a daemon that does not fork.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Create and lock the file, empty; PidfileError if a live karafkad holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(LOCK_ATTEMPTS):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                time.sleep(0.05)
                continue
            if _same_file(fd, self.path):
                os.ftruncate(fd, 0)  # a stale pid must not be read as ours while we start
                self._fd = fd
                return
            os.close(fd)  # a daemon that was exiting removed the file we locked; lock the new one
        pid = read_pid(self.path)
        raise PidfileError(f"{self.path} is held by a running karafkad{f' (pid {pid})' if pid else ''}")

    def fileno(self) -> int:
        if self._fd is None:
            raise ValueError("pidfile not acquired")
        return self._fd

    def write(self) -> None:
        """Record the calling process's pid (the daemon's own, after detaching)."""
        fd = self.fileno()
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)

    def close(self) -> None:
        """Close this process's handle without removing the file (the lock stays with other holders)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def release(self) -> None:
        """Remove the file, then let go of the lock."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self.close()

    def __enter__(self) -> Pidfile:
        self.acquire()
        self.write()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def read_pid(path: Path) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def held(path: Path) -> bool:
    """Whether some process holds the lock of `path` (False if there is no such file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise PidfileError(f"{path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock, if we got it
    return False


def running_pid(path: Path) -> int:
    """The pid of the live karafkad holding `path`; PidfileError otherwise."""
    if not Path(path).exists():
        raise PidfileError(f"{path}: no pidfile (is karafkad running with --pidfile {path}?)")
    pid = read_pid(path)
    if not held(path):
        named = f"pid {pid}" if pid else "no pid"
        raise PidfileError(f"{path}: stale pidfile ({named}, and no karafkad holds it; "
                           "the daemon was killed, a new start will reuse the file)")
    if pid is None:
        raise PidfileError(f"{path}: karafkad is starting (no pid written yet)")
    return pid
