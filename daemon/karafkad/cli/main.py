"""The `karafkad` command: parse the arguments, run the command's module (one per command group)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from karafkad.cli.parser import DEFAULT_CONFIG, build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status (see `karafkad --help`)."""
    args = build_parser().parse_args(argv)
    # Each command's module is imported when it runs, not before: `karafkad check` on a file with a typo
    # must not pay for kafka-python, RQ and Redis (a third of a second), which other commands load.
    if args.command == "start":
        from karafkad.cli import start

        return start.run(args)
    if args.command in ("check", "routes", "explain"):
        from karafkad.cli import inspection

        if args.command == "check":
            return inspection.check(args.config, quiet=args.quiet)
        if args.command == "routes":
            return inspection.routes_table(args.config)
        return inspection.explain(args)
    if args.command == "test":
        from karafkad.cli import route_tests

        return route_tests.run_tests_command(args.files, args.config or (None if args.files else
                                                                         Path(DEFAULT_CONFIG)),
                                             verbose=args.verbose)
    if args.command == "produce":
        from karafkad.cli import produce

        return produce.run(args, Path(DEFAULT_CONFIG))
    if args.command == "worker":
        from karafkad.cli import worker

        return worker.run_worker(args.config, args.queues, burst=args.burst, name=args.name,
                                 log_level=args.log_level, processes=args.processes, fork=args.fork)
    if args.command == "replay":
        from karafkad.cli import replay

        return replay.run(args)
    if args.command == "dead-letters":
        from karafkad.cli import dead_letters

        return dead_letters.run(args)
    if args.command in ("pause", "resume", "paused"):
        from karafkad.cli import pauses

        return pauses.run(args)
    if args.command == "web-password":
        from karafkad.cli import web_password

        return web_password.run(args)
    if args.command == "held":
        from karafkad.cli import held

        return held.run(args)
    if args.command == "topics":
        from karafkad.cli import topics

        return topics.run(args)
    from karafkad.cli import control

    if args.command == "stop":
        return control.stop(args.pidfile, args.timeout)
    if args.command == "reload":
        return control.reload(args.pidfile, args.config)
    return control.status(args.pidfile, args.http_port)


if __name__ == "__main__":
    sys.exit(main())
