"""`karafkad start`: load the routes, optionally detach, then hand over to the supervisor.

Clients, threads and log handlers are created only after python-daemon has
detached (a forked daemon must not inherit sockets or locks from its parent).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import IO

from karafkad import defaults
from karafkad.errors import ConfigError, HaltServer, KarafkadError, PidfileError
from karafkad.health import HealthServer
from karafkad.inspection import print_problems
from karafkad.observability import Metrics, configure_logging, get_logger
from karafkad.pidfile import Pidfile
from karafkad.routing import RouteTable, load_routes
from karafkad.signals import SignalQueue
from karafkad.supervisor import Supervisor, serve
from karafkad.systemd import Notifier

log = get_logger("karafkad")


def start(args: argparse.Namespace) -> int:
    try:
        table = load_routes(args.config)
    except ConfigError as exc:
        print_problems(exc)
        return defaults.EXIT_CONFIG
    if args.daemonize and not args.pidfile:
        print("karafkad: --daemonize needs --pidfile (so that `karafkad stop` can find the daemon)",
              file=sys.stderr)
        return defaults.EXIT_CONFIG
    log_file = args.log_file
    if args.daemonize and log_file is None:
        log_file = args.pidfile.with_suffix(".log")
    if not args.daemonize:
        return _run_with_pidfile(table, args, log_file)
    import daemon  # python-daemon

    context = daemon.DaemonContext(working_directory=os.getcwd(), umask=0o027, detach_process=True)
    with context:
        return _run_with_pidfile(table, args, log_file)


def _run_with_pidfile(table: RouteTable, args: argparse.Namespace, log_file: Path | None) -> int:
    stream: IO[str] = open(log_file, "a", buffering=1) if log_file else sys.stderr  # noqa: SIM115
    try:
        daemon_settings = table.config.daemon
        configure_logging(args.log_format or daemon_settings.log_format,
                          args.log_level or daemon_settings.log_level, stream)
        if args.pidfile:
            try:
                with Pidfile(args.pidfile):
                    return _run(table, args)
            except PidfileError as exc:
                log.error("cannot start", error=str(exc))
                return defaults.EXIT_RUNTIME
        return _run(table, args)
    finally:
        if stream is not sys.stderr:
            stream.close()


def _run(table: RouteTable, args: argparse.Namespace) -> int:
    for warning in table.config.warnings:
        log.warning("routes file", problem=str(warning))
    metrics = Metrics()
    signals = SignalQueue()
    signals.install()
    http: HealthServer | None = None
    try:
        supervisor = Supervisor(table, metrics=metrics)
        port = args.http_port if args.http_port is not None else table.config.daemon.http_port
        if port is not None:
            try:
                http = HealthServer(table.config.daemon.http_host, port, ready=supervisor.ready,
                                    status=supervisor.status, registry=metrics.registry)
            except OSError as exc:
                log.error("cannot serve HTTP", port=port, error=str(exc))
                return defaults.EXIT_RUNTIME
            http.start()
            log.info("HTTP endpoints", url=f"http://{table.config.daemon.http_host}:{http.port}/")
        return serve(supervisor, args.config, signals, Notifier())
    except HaltServer as halt:
        log.error("forced shutdown", reason=halt.reason, exit_status=halt.exit_status)
        _flush()
        os._exit(halt.exit_status)  # consumer threads may be stuck in a client call; do not wait for them
    except KarafkadError as exc:
        log.error("cannot run", error=str(exc))
        return defaults.EXIT_RUNTIME
    finally:
        if http is not None:
            http.stop()
        signals.restore()


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
