"""The pidfile of `start --pidfile`, and `stop` / `reload` / `status` through it.

The file is created exclusively and locked (fcntl) for the daemon's whole
life, so a second daemon on the same pidfile is refused and a stale file
(left by kill -9) is recognised: nobody holds its lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from karafkad import defaults
from karafkad.errors import PidfileError


class Pidfile:
    """Context manager: write and lock the pidfile on enter, remove it on exit.

    python-daemon's DaemonContext enters it after detaching, so the pid
    written is the daemon's own.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def __enter__(self) -> Pidfile:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise PidfileError(f"{self.path} is held by a running karafkad (pid {read_pid(self.path)})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(self._fd)
            self._fd = None


def read_pid(path: Path) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def running_pid(path: Path) -> int:
    """The pid of the live karafkad holding `path`; PidfileError otherwise."""
    pid = read_pid(path)
    if pid is None:
        raise PidfileError(f"{path}: no pidfile (is karafkad running with --pidfile {path}?)")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise PidfileError(f"{path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        pass  # locked: the daemon holds it
    else:
        raise PidfileError(f"{path}: stale pidfile (pid {pid} is not running karafkad)")
    finally:
        os.close(fd)
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(path: Path, timeout: float) -> int:
    try:
        pid = running_pid(path)
    except PidfileError as exc:
        print(f"karafkad: {exc}")
        return defaults.EXIT_RUNTIME
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            print(f"karafkad: pid {pid} still running after {timeout:.0f} s")
            return defaults.EXIT_FORCED
        time.sleep(0.1)
    print(f"karafkad: stopped (pid {pid})")
    return defaults.EXIT_OK


def reload(path: Path) -> int:
    try:
        pid = running_pid(path)
    except PidfileError as exc:
        print(f"karafkad: {exc}")
        return defaults.EXIT_RUNTIME
    os.kill(pid, signal.SIGHUP)
    print(f"karafkad: reload requested (pid {pid}); the log says whether the new routes were applied")
    return defaults.EXIT_OK


def status(path: Path, http_port: int | None) -> int:
    try:
        pid = running_pid(path)
    except PidfileError as exc:
        print(f"karafkad: not running: {exc}")
        return defaults.EXIT_RUNTIME
    print(f"karafkad: running (pid {pid})")
    if http_port:
        url = f"http://127.0.0.1:{http_port}/status.json"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                snapshot = json.load(response)
        except OSError as exc:
            print(f"  {url}: {exc}")
            return defaults.EXIT_RUNTIME
        print(f"  state: {snapshot['state']}, ready: {snapshot['ready']}")
        print(f"  routes file: {snapshot['routes_file']}")
        print(f"  redis: {snapshot['redis']}")
        for group, info in snapshot["groups"].items():
            partitions = sum(len(t["partitions"]) for t in info["threads"])
            print(f"  group {group}: {len(info['threads'])} thread(s), {partitions} partition(s), "
                  f"routes: {', '.join(info['routes'])}")
    return defaults.EXIT_OK
