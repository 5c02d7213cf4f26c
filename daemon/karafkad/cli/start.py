"""`karafkad start`: load the routes, optionally detach, lock the pidfile, wire logs, HTTP and the supervisor.

This is where the daemon is put together (runtime's supervisor, web's
endpoints, the signal queue), which is why it sits at the top, in cli.

Clients, threads and log handlers are created only after python-daemon has
detached: DaemonContext closes every file descriptor it was not told to keep,
and a daemon must not share sockets or locks with the command that started
it. Two descriptors cross on purpose: the locked pidfile, and a pipe on which
the daemon tells the waiting `start --daemonize` that it is up, or that it
gave up and with which exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import os
import select
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from karafkad import defaults
from karafkad.cli import console
from karafkad.cli.output import print_problems
from karafkad.clients.kafka import failures as kafka_failures
from karafkad.clients.kafka.admin import Cluster
from karafkad.config.loading import INSTANCE_ID_VARIABLE
from karafkad.config.settings import Config
from karafkad.config.web import loopback
from karafkad.errors import ConfigError, HaltServer, KarafkadError, PidfileError
from karafkad.observability import Metrics, configure_logging, get_logger
from karafkad.ops.topics import missing_topics
from karafkad.routes.table import RouteTable, load_routes
from karafkad.store import events
from karafkad.supervision import collector
from karafkad.supervision.main_loop import serve
from karafkad.supervision.pidfile import Pidfile
from karafkad.supervision.signals import SignalQueue
from karafkad.supervision.supervisor import Supervisor
from karafkad.supervision.systemd import Notifier
from karafkad.testing.runner import route_test_failures
from karafkad.tracing.switch import start_tracing
from karafkad.web.app import Console
from karafkad.web.board import StatusBoard
from karafkad.web.server import HealthServer, tls_context

log = get_logger(__name__)

START_REPORT_TIMEOUT = 60.0
"""Seconds `start --daemonize` waits for the daemon to say it is up (it only
has to load, lock, open its log and bind the HTTP port: no network yet)."""


@dataclass(frozen=True)
class LaunchOptions:
    """How `karafkad start` was asked to run (the command line's choices over the routes file's)."""

    config: Path
    """The routes file (read again on SIGHUP)."""
    daemonize: bool = False
    pidfile: Path | None = None
    log_file: Path | None = None
    log_format: str | None = None
    log_level: str | None = None
    http_port: int | None = None


def run(args: argparse.Namespace) -> int:
    """`karafkad start`: the exit status (see `karafkad --help`)."""
    if args.instance_id is not None:
        # Through the environment, so that a reload (which reads the routes file again) keeps it.
        os.environ[INSTANCE_ID_VARIABLE] = args.instance_id
    try:
        table = load_routes(args.config)
    except ConfigError as exc:
        print_problems(exc)
        return defaults.EXIT_CONFIG
    failures = route_test_failures(args.config, table)
    if failures:
        # As `karafkad check` refuses it, and as a reload would: a file whose route tests fail is not run.
        for line in failures:
            print(f"karafkad: cannot start: {line}", file=sys.stderr)
        return defaults.EXIT_CONFIG
    if args.daemonize and not args.pidfile:
        print("karafkad: --daemonize needs --pidfile (so that `karafkad stop` can find the daemon)",
              file=sys.stderr)
        return defaults.EXIT_CONFIG
    return start(table, LaunchOptions(args.config, args.daemonize, args.pidfile, args.log_file, args.log_format,
                                      args.log_level, args.http_port))


def start(table: RouteTable, options: LaunchOptions) -> int:
    """Run the daemon on a compiled route table until it is told to stop; the exit status."""
    pidfile = Pidfile(options.pidfile) if options.pidfile else None
    if pidfile is not None:
        try:
            pidfile.acquire()  # before forking, so that a second start is refused here, with exit 3
        except PidfileError as exc:
            print(f"karafkad: cannot start: {exc}", file=sys.stderr)
            return defaults.EXIT_RUNTIME
    if options.daemonize:
        assert pidfile is not None and options.pidfile is not None
        return _daemonize(table, options, pidfile)
    try:
        if pidfile is not None:
            pidfile.write()
        if options.log_file is None:
            return _run(table, options, sys.stderr, pidfile)
        with open(options.log_file, "a", buffering=1) as stream:
            return _run(table, options, stream, pidfile)
    finally:
        if pidfile is not None:
            pidfile.release()


def _daemonize(table: RouteTable, options: LaunchOptions, pidfile: Pidfile) -> int:
    """Fork; the command waits for the daemon's report, the child becomes the daemon."""
    assert options.pidfile is not None
    log_file = Path(options.log_file or options.pidfile.with_suffix(".log")).absolute()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child:
        os.close(write_end)
        pidfile.close()  # the daemon holds the lock from now on
        os.waitpid(child, 0)  # it exits as soon as python-daemon has forked again
        return _await_report(read_end, log_file)
    os.close(read_end)
    # Deferred: python-daemon is needed only in the child, and only with --daemonize.
    import daemon

    report = _Report(write_end)
    status = defaults.EXIT_RUNTIME
    context = daemon.DaemonContext(working_directory=os.getcwd(), umask=0o027, detach_process=True,
                                   files_preserve=[pidfile.fileno(), write_end])
    try:
        with context:
            pidfile.write()  # the daemon's own pid, now that it has detached
            _send_output_to(log_file)
            status = _run(table, options, sys.stderr, pidfile, on_serving=report.started)
    finally:
        pidfile.release()
        report.exited(status)
    return status


class _Report:
    """The daemon's end of the pipe: one line, `started PID` or `exited STATUS`."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def _send(self, line: str) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # the command stopped waiting; nothing to tell
            os.write(self._fd, line.encode() + b"\n")
        os.close(self._fd)
        self._fd = None

    def started(self) -> None:
        self._send(f"started {os.getpid()}")

    def exited(self, status: int) -> None:
        self._send(f"exited {status}")


def _await_report(read_end: int, log_file: Path) -> int:
    """The exit status of `start --daemonize`: 0 once the daemon serves, else the daemon's own status."""
    with os.fdopen(read_end, "rb") as pipe:
        readable, _, _ = select.select([pipe], [], [], START_REPORT_TIMEOUT)
        words = pipe.readline().decode().split() if readable else []
    if len(words) == 2 and words[0] == "started":
        print(f"karafkad: started (pid {words[1]}), logging to {log_file}")
        return defaults.EXIT_OK
    if len(words) == 2 and words[0] == "exited" and words[1].isdigit():
        print(f"karafkad: the daemon exited with status {words[1]} before it was up; see {log_file}",
              file=sys.stderr)
        return int(words[1])
    what = "gave no report" if readable else f"did not report within {START_REPORT_TIMEOUT:g} s"
    print(f"karafkad: the daemon {what}; see {log_file}", file=sys.stderr)
    return defaults.EXIT_RUNTIME


def _send_output_to(log_file: Path) -> None:
    """Point the daemon's stdout and stderr at the log file: logs, tracebacks and stray prints all land there."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    os.dup2(fd, sys.stdout.fileno())
    os.dup2(fd, sys.stderr.fileno())
    os.close(fd)


def _run(table: RouteTable, options: LaunchOptions, stream: TextIO, pidfile: Pidfile | None,
         on_serving: Callable[[], None] | None = None) -> int:
    settings = table.config.daemon
    level = options.log_level or settings.log_level
    configure_logging(options.log_format or settings.log_format, level, stream,
                      log_filters=[kafka_failures.log_filter(table.config.kafka, verbose=level == "debug")])
    # A SIGABRT from the systemd watchdog (or a crash in a C extension) then
    # leaves every thread's stack in the log. `kill -USR1 PID` does too, from
    # the main loop (supervision/signals.py says why not from faulthandler's
    # own handler).
    with contextlib.suppress(OSError, ValueError, AttributeError):
        faulthandler.enable(stream)
    for warning in table.config.warnings:
        log.warning("routes file", problem=str(warning))
    metrics = Metrics()
    signals = SignalQueue()
    signals.install()
    http: HealthServer | None = None
    # After python-daemon's fork (the SDK's export thread belongs to the daemon), before any consumer thread.
    tracing = start_tracing(defaults.SERVICE_NAME)
    try:
        supervisor = Supervisor(table, metrics=metrics, vet=route_test_failures,
                                tracer=tracing.message_spans() if tracing is not None else None)
        board = StatusBoard(supervisor.status, metrics, supervisor.queue_lengths,
                            operations=lambda: events.recent(supervisor.redis))
        console.publish(supervisor, board)  # every daemon shows itself on the deployment's consoles
        port = options.http_port if options.http_port is not None else settings.http_port
        if port is not None:
            http = _serve_http(table.config, port, console.console(supervisor, board, metrics))
            if http is None:
                return defaults.EXIT_RUNTIME
        if settings.require_topics:
            _check_topics(table.config, refuse=True)
        if on_serving is not None:
            on_serving()

        def on_ready() -> None:
            collector.settle()  # what start-up made is kept for good: out of the collector's way
            # The topic check once ready (Kafka answers), beside the main loop, which stays free for signals.
            if not settings.require_topics:
                threading.Thread(target=_check_topics, args=(table.config,), name="topics-check",
                                 daemon=True).start()

        # on_tick: the main loop samples the counters for the page's rates (never a consumer thread).
        return serve(supervisor, options.config, signals, Notifier(), board.tick, on_ready, stacks=stream)
    except HaltServer as halt:
        log.error("forced shutdown", reason=halt.reason, exit_status=halt.exit_status)
        if pidfile is not None:
            pidfile.release()
        _flush(stream)
        os._exit(halt.exit_status)  # consumer threads may be stuck in a client call; do not wait for them
    except KarafkadError as exc:
        log.error("cannot run", error=str(exc))
        return defaults.EXIT_RUNTIME
    except Exception:
        # Exit status 1 means "bad routes file", and the unit files do not
        # restart on it (RestartPreventExitStatus=1); a crash must not look
        # like one, or systemd would leave the daemon down.
        log.exception("crashed")
        return defaults.EXIT_RUNTIME
    finally:
        if http is not None:
            http.stop()
        if tracing is not None:
            tracing.shutdown()  # the last spans, within defaults.TRACE_FLUSH_SECONDS
        signals.restore()
        faulthandler.disable()


def _serve_http(config: Config, port: int, app: Console) -> HealthServer | None:
    """The HTTP port serving the console (over TLS with web.tls), started; None after logging why it cannot."""
    host, web = config.daemon.http_host, config.web
    try:
        tls = tls_context(web.certfile, web.keyfile) if web.certfile and web.keyfile else None
    except (OSError, ssl.SSLError) as exc:
        log.error("cannot serve HTTPS: web.tls's certificate or key cannot be used", certfile=web.certfile,
                  keyfile=web.keyfile, error=str(exc))
        return None
    try:
        http = HealthServer(host, port, app.handle, tls)
    except OSError as exc:
        log.error("cannot serve HTTP", port=port, error=str(exc))
        return None
    http.start()
    if not loopback(host) and tls is None:
        log.warning("the console is served over plain HTTP on a non-loopback address: anyone on the network "
                    "reads it (web.auth needs web.tls there)", host=host)
    log.info("HTTP endpoints", url=f"{'https' if tls else 'http'}://{host}:{http.port}/",
             actions="on (web.auth)" if web.auth is not None else "off (read-only: no web.auth)")
    return http


def _check_topics(config: Config, refuse: bool = False) -> None:
    """Every routed and dead-letter topic exists: one line per missing one (a warning), or, with
    daemon.require_topics, a refusal to start (KarafkadError, exit 3; also when Kafka cannot say)."""
    try:
        with Cluster(config.kafka, "topics-check") as cluster:
            missing = missing_topics(config, cluster)
    except Exception as exc:  # Kafka unreachable or refusing: the consumers wait for it and say so themselves
        if refuse:
            raise KarafkadError(f"cannot check that the topics exist (daemon.require_topics): "
                                f"{kafka_failures.explain(exc, config.kafka)}") from None
        log.warning("cannot check that the topics exist", error=kafka_failures.explain(exc, config.kafka))
        return
    for topic, users in sorted(missing.items()):
        line = (f"topic {topic!r} does not exist in the cluster; needed by {', '.join(users)} "
                "(declare it under `topics:` and run `karafkad topics apply`)")
        if refuse:
            raise KarafkadError(f"refusing to start: {line} (daemon.require_topics is true)")
        log.warning(line)


def _flush(stream: TextIO) -> None:
    for each in (stream, sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            each.flush()
