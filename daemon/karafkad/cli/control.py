"""`karafkad stop`, `reload` and `status`: signal or ask the daemon found through its pidfile (`reload` checks
the routes file first)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path

from karafkad import defaults
from karafkad.errors import PidfileError
from karafkad.supervision.pidfile import held, running_pid


def stop(path: Path, timeout: float) -> int:
    """SIGTERM the daemon, then wait until it let go of the pidfile (its exit)."""
    try:
        pid = running_pid(path)
    except PidfileError as exc:
        print(f"karafkad: {exc}")
        return defaults.EXIT_RUNTIME
    os.kill(pid, signal.SIGTERM)
    print(f"karafkad: SIGTERM sent to pid {pid}; waiting for the drain")
    # The lock, not the pid: it goes away when the daemon's files close at exit,
    # even if nobody reaps the process, and a reused pid cannot fool it.
    deadline = time.monotonic() + timeout
    while held(path):
        if time.monotonic() >= deadline:
            print(f"karafkad: pid {pid} still running after {timeout:g} s")
            return defaults.EXIT_RUNTIME
        time.sleep(0.1)
    print(f"karafkad: stopped (pid {pid})")
    return defaults.EXIT_OK


def reload(path: Path, config: Path | None = None) -> int:
    """SIGHUP the daemon; with `config`, check it first as `karafkad check -q` does and send nothing if it fails.

    The daemon re-reads the file it was started with (its own -c, with its own
    environment for ${VAR}s), so `config` should name that same file. Without
    it nothing is checked here: the daemon checks and tests the file itself
    and keeps its running routes when it does not pass.
    """
    if config is not None:
        # Deferred like every command's module (cli.main): stop and status never pay for the routes.
        from karafkad.cli.inspection import check

        if check(config, quiet=True) != defaults.EXIT_OK:
            print(f"karafkad: not reloading: {config} does not check (above); the daemon keeps its current "
                  "routes", file=sys.stderr)
            return defaults.EXIT_CONFIG
    try:
        pid = running_pid(path)
    except PidfileError as exc:
        print(f"karafkad: {exc}")
        return defaults.EXIT_RUNTIME
    os.kill(pid, signal.SIGHUP)
    checked = f"{config} checks; " if config is not None else ""
    print(f"karafkad: {checked}reload requested (pid {pid}); the log says whether the daemon applied it")
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
        held = snapshot.get("held_keys", {}).get("keys", [])
        if held:
            print(f"  held keys: {len(held)}, each behind a job that failed for good (karafkad held list)")
    return defaults.EXIT_OK
