"""The daemon's main loop, in the main thread: start the supervisor, report readiness, dispatch the signals,
watch the consumer threads, drain.

Signals arrive as queue entries (signals.py): SIGHUP reloads (Supervisor.reload), SIGUSR1 dumps every
thread's stack to the log, SIGTERM/SIGINT drain within shutdown_timeout (a second one, past
defaults.SIGNAL_REPEAT_IGNORE, forces exit 2). A consumer thread that stops coming round (the stall watchdog)
or a drain that cannot finish ends in HaltServer, which `karafkad start` turns into an immediate exit.
"""

from __future__ import annotations

import contextlib
import faulthandler
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from karafkad import defaults
from karafkad.errors import HaltServer
from karafkad.observability import get_logger
from karafkad.supervision.signals import SignalQueue
from karafkad.supervision.supervisor import State, Supervisor
from karafkad.supervision.systemd import Notifier

log = get_logger(__name__)


def dump_stacks(stream: TextIO | None) -> None:
    """Every thread's stack to `stream` (the log; None: stderr), from the main thread holding the GIL: the other
    threads stand still at a bytecode boundary or in a call that released it, so their frames are whole
    (signals.HANDLED says why not from a signal handler)."""
    with contextlib.suppress(OSError, ValueError, RuntimeError):
        stream = stream or sys.stderr
        stream.flush()  # the log line announcing them comes first
        faulthandler.dump_traceback(file=stream, all_threads=True)


def _halt_stuck(threads: list[str], stacks: TextIO | None) -> None:
    """A consumer thread no longer comes round (it holds its partitions in the group all the same, so
    nobody else would consume them): log why, with every thread's stack, and exit for a restart."""
    log.error("consumer thread stuck; exiting so that the service manager restarts the daemon (nothing "
              "is lost: offsets are committed only after the jobs are in Redis); thread stacks follow",
              threads=threads, stuck_for_seconds=defaults.STALL_SECONDS)
    dump_stacks(stacks)
    raise HaltServer(f"consumer thread(s) stuck for {defaults.STALL_SECONDS:.0f} s: {', '.join(threads)}",
                     defaults.EXIT_RUNTIME)


def serve(supervisor: Supervisor, routes_file: Path, signals: SignalQueue, notifier: Notifier,
          on_tick: Callable[[], None] | None = None, on_ready: Callable[[], None] | None = None,
          stacks: TextIO | None = None) -> int:
    """The main loop: start, report readiness, dispatch signals, drain. Returns the exit status.

    `on_tick` runs at every turn of the loop, `on_ready` once, when the daemon is first ready; thread stacks
    (SIGUSR1, a stuck thread) go to `stacks`, the log (None: stderr).
    """
    timeout = supervisor.table.config.daemon.shutdown_timeout
    supervisor.start()
    supervisor.state = State.RUNNING
    notifier.status("joining consumer groups")
    announced = False
    was_ready = False
    next_ping = 0.0

    def ping() -> None:
        nonlocal next_ping
        now = time.monotonic()
        if notifier.watchdog_interval and now >= next_ping and supervisor.healthy():
            notifier.watchdog()
            next_ping = now + notifier.watchdog_interval

    while True:
        sig = signals.wait(0.2)
        ping()
        ready = supervisor.ready()
        if ready and not announced:
            announced = True
            notifier.ready(_consuming(supervisor))
            log.info("ready: all consumer groups joined and Redis answers")
            if on_ready is not None:
                on_ready()
        elif ready != was_ready and announced:
            # Keep `systemctl status` honest when readiness is lost and regained (e.g. Redis down).
            notifier.status(_consuming(supervisor) if ready else "not ready: waiting for Redis or a group join")
        was_ready = ready
        if on_tick is not None:
            on_tick()
        stuck = supervisor.stalled(defaults.STALL_SECONDS)
        if stuck:
            _halt_stuck(stuck, stacks)
        fatal = supervisor.fatal()
        if fatal:
            # Not restarted by systemd (exit 1): a restart would take the id back and fence the other process.
            log.error("a consumer stopped for good; draining the others and exiting", reason=fatal[0])
            _drain(supervisor, signals, notifier, "a consumer stopped for good", timeout, stacks)
            return defaults.EXIT_CONFIG
        if sig is None:
            continue
        if sig == signal.SIGUSR1:
            _stacks_asked(stacks)
            continue
        if sig == signal.SIGHUP:
            notifier.reloading()
            log.info("SIGHUP: reloading routes", file=str(routes_file))
            supervisor.reload(routes_file, ping)
            notifier.ready(_consuming(supervisor))
            continue
        return _drain(supervisor, signals, notifier, f"{signal.Signals(sig).name}", timeout, stacks)


def _stacks_asked(stacks: TextIO | None) -> None:
    log.info("SIGUSR1: every thread's stack follows (nothing else changes)")
    dump_stacks(stacks)


def _consuming(supervisor: Supervisor) -> str:
    return f"consuming {len(supervisor.runners)} group(s), {len(supervisor.table.routes)} route(s)"


def _drain(supervisor: Supervisor, signals: SignalQueue, notifier: Notifier, why: str, timeout: float,
           stacks: TextIO | None) -> int:
    log.info(f"{why}: draining", shutdown_timeout=timeout)
    notifier.stopping(f"draining ({why})")
    deadline = supervisor.begin_drain(timeout)
    ignore_until = time.monotonic() + defaults.SIGNAL_REPEAT_IGNORE
    try:
        while not supervisor.drained():
            sig = signals.wait(0.1)
            if sig == signal.SIGUSR1:
                _stacks_asked(stacks)  # a drain that seems stuck is when they are wanted most
            elif sig in (signal.SIGTERM, signal.SIGINT):
                name = signal.Signals(sig).name
                if time.monotonic() >= ignore_until:
                    raise HaltServer(f"second {name} during drain", defaults.EXIT_FORCED)
                # Often one signal delivered twice (a terminal, a process manager): not yet a forced exit.
                log.info(f"ignored a repeated {name} within {defaults.SIGNAL_REPEAT_IGNORE:g} s of the first "
                         "(send it again to force an exit)")
            if time.monotonic() >= deadline + 1.0:
                raise HaltServer(f"drain did not finish within shutdown_timeout ({timeout} s)",
                                 defaults.EXIT_FORCED)
    finally:
        supervisor.close()
    if supervisor.abandoned():
        raise HaltServer("drain deadline passed with a batch that could not be written (it was not committed "
                         "and will be consumed again)", defaults.EXIT_FORCED)
    log.info("stopped cleanly")
    return defaults.EXIT_OK
