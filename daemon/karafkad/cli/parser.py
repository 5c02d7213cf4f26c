"""The `karafkad` command line: every command, option and exit code, as `--help` shows them."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from pathlib import Path
from typing import NoReturn

from karafkad import __version__, defaults
from karafkad.times import epoch_ms

DEFAULT_CONFIG = os.environ.get("KARAFKAD_CONFIG", "/etc/karafkad/routes.yaml")

EPILOG = f"""\
exit codes:
  {defaults.EXIT_OK}  clean exit (a drain that finished within shutdown_timeout)
  {defaults.EXIT_CONFIG}  invalid routes file or arguments (every problem is listed), or another running daemon
     joined a group with this one's static instance id ("static member fenced")
  {defaults.EXIT_FORCED}  forced shutdown: a second SIGTERM/SIGINT, or the drain outlived shutdown_timeout
  {defaults.EXIT_RUNTIME}  could not run (pidfile held, HTTP port taken, Redis refused as not durable), a
     consumer thread stuck for {defaults.STALL_SECONDS:.0f} s (every thread's stack is logged), an
     unexpected error (logged as "crashed"), or `stop` timed out with the daemon still running

signals (start): SIGTERM/SIGINT drain and exit (a second one exits 2, unless it
comes within {defaults.SIGNAL_REPEAT_IGNORE:g} s of the first: often one signal delivered twice); SIGHUP
reloads the routes file (a file that does not check, or whose route tests
fail, is refused and the current routes stay); SIGUSR1 writes every thread's
stack to the log (for a daemon that seems stuck).

The routes file defaults to $KARAFKAD_CONFIG, else {DEFAULT_CONFIG}.
"""


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error; here 2 means a forced shutdown, so usage errors exit 1."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(defaults.EXIT_CONFIG, f"{self.prog}: error: {message}\n")


def time_ms(text: str) -> int:
    """A time on the command line, in ms since the epoch: ISO 8601 (UTC without an offset) or epoch seconds or ms."""
    try:
        return epoch_ms(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time (2026-11-30T08:00:00Z) or seconds "
                                         "or milliseconds since the epoch") from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", type=Path, default=Path(DEFAULT_CONFIG), metavar="FILE",
                        help=f"the routes file (default: {DEFAULT_CONFIG})")


HELD_EPILOG = ("exit codes: 0 done (list: listed, held keys or not); 1 a job named holds no key (each is listed with "
               "why), bad arguments (an unknown route, one without ordering, --all without --yes), or an invalid "
               "routes file; 3 Redis unreachable")


def _held_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    """`karafkad held list|retry|skip` (one parser each: failed job ids and options may come in any order)."""
    held = commands.add_parser(
        "held", help="list the keys ordered routes hold behind a failed job; retry or skip that job",
        description=textwrap.fill(
            "On a route with `ordering` and `on_failure: hold` (the default), a job that failed after its RQ "
            "retries holds its key: the key's later jobs wait (RQ's deferred jobs) while the other keys keep "
            "flowing. `list` shows each held key; `retry` runs its failed job again, `skip` runs the rest of the "
            "key without it. Each group's jobs are read on its own Redis; each release is noted on the status "
            "page (recent operations)."),
        epilog=HELD_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = held.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    listing = actions.add_parser(
        "list", help="show each held key",
        description=textwrap.fill(
            "Show each held key of the ordered routes: its route, partition and key, the failed job, when it "
            "failed, the last line of its error, and how many jobs wait behind it (counted up to "
            f"{defaults.WAITING_COUNT_LIMIT}). The newest {defaults.FAILED_SCAN_LIMIT:,} failed jobs of each queue "
            "are read; when a queue has more, a note says so."),
        epilog=HELD_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _config_option(listing)
    listing.add_argument("-r", "--route", metavar="NAME", help="only this route's held keys")
    listing.add_argument("--json", action="store_true", help="as JSON")
    for name, text in (
            ("retry", "run the failed job again (RQ's requeue of a failed job): once it succeeds, the jobs waiting "
                      "behind it run, in order; if it fails again, it holds its key again"),
            ("skip", "run the jobs waiting behind the failed job without it, in order: it stays in RQ's failed "
                     "registry (RQ's tools still show it), and the key's next message no longer waits for it")):
        release = actions.add_parser(
            name, help=text.split(":")[0],
            description=textwrap.fill(
                f"{text[0].upper()}{text[1:]}. Name the failed jobs (as `held list` shows them), or a route with "
                "--key or --all. Only a job that holds its key now is released: one that holds none (skipped "
                "before, or not failed) is refused with why, as it would run out of its key's order."),
            epilog=HELD_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        release.add_argument("jobs", nargs="*", metavar="JOB_ID", help="a failed job holding its key")
        _config_option(release)
        release.add_argument("-r", "--route", metavar="NAME", help="the route of --key or --all")
        release.add_argument("-k", "--key", metavar="KEY", help="the held key of --route (as `held list` shows it)")
        release.add_argument("--all", action="store_true", help="every held key of --route (needs --yes)")
        release.add_argument("-y", "--yes", action="store_true",
                             help="with --all: release them (without it, --all only lists what it would release)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="karafkad",
        description="Consume Kafka topics in consumer groups, validate and filter each message, and enqueue "
                    "an RQ job for the handler its route names.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"karafkad {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    start = commands.add_parser(
        "start", help="run the daemon (in the foreground unless --daemonize)",
        description="Run the daemon: join the consumer groups of the routes file and turn messages into RQ "
                    "jobs. Foreground by default (for systemd Type=notify); logs go to stderr. A routes file that "
                    "does not check, or whose route tests (routes_test.yaml beside it) fail, is refused with exit 1.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _config_option(start)
    start.add_argument("--daemonize", action="store_true",
                       help="detach from the terminal (python-daemon); needs --pidfile")
    start.add_argument("--pidfile", type=Path, metavar="PATH",
                       help="write the daemon's pid here (locked while it runs)")
    start.add_argument("--log-file", type=Path, metavar="PATH",
                       help="append logs here instead of stderr (default with --daemonize: PIDFILE with .log)")
    start.add_argument("--log-format", choices=["auto", "json", "console"],
                       help="override daemon.log_format (auto: console on a terminal, JSON lines otherwise)")
    start.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                       help="override daemon.log_level")
    start.add_argument("--instance-id", metavar="ID",
                       help="join every group that has no instance_id of its own as a static member ID-N (thread N): "
                            "restarted within session_timeout_ms, it takes back its partitions without a rebalance "
                            "(default: $KARAFKAD_INSTANCE_ID, which the unit files set from the host and instance "
                            "names; unset: dynamic members)")
    start.add_argument("--http-port", type=int, metavar="PORT",
                       help="serve /ping, /ready, /metrics and the status page (overrides daemon.http_port)")

    check = commands.add_parser(
        "check", help="check a routes file; exit 0, or 1 listing every problem",
        description="Check the routes file without connecting to Kafka or Redis: structure, environment "
                    "variables, handlers and hooks (imported), schemas and filters (compiled), and the route "
                    "tests beside it (routes_test.yaml), if any.")
    _config_option(check)
    check.add_argument("-q", "--quiet", action="store_true", help="print nothing when the file is fine")

    routes = commands.add_parser("routes", help="print a table of groups, topics, handlers, queues and filters")
    _config_option(routes)

    explain = commands.add_parser(
        "explain", help="show what a message would become, without Kafka or Redis",
        description="Run a message through the routes of its topic and show each step: decoded params, "
                    "schema validation, filter, before_enqueue hooks, and the job that would be enqueued.")
    _config_option(explain)
    explain.add_argument("--topic", "-t", required=True, help="the topic the message arrives on")
    source = explain.add_mutually_exclusive_group(required=True)
    source.add_argument("--value", "-v", help="the message value, inline")
    source.add_argument("--file", "-f", type=Path, help="read the message value from a file ('-' for stdin)")
    source.add_argument("--tombstone", action="store_true", help="a message with a null value")
    source.add_argument("--hex", help="the message value as hex (a record in the Confluent wire format: 00 ...)")
    source.add_argument("--base64", help="the message value as base64")
    explain.add_argument("--subject", help="encode the --value (JSON) with this Schema Registry subject's schema "
                                           "first, into the Confluent wire format, as a producer's serializer does")
    explain.add_argument("--schema-version", default="latest",
                         help="the subject's schema version to encode with (default: latest)")
    explain.add_argument("--message", dest="protobuf_message", metavar="NAME",
                         help="with a Protobuf subject: the message the value is (default: the schema's first)")
    explain.add_argument("--key", "-k", help="the message key")
    explain.add_argument("--header", "-H", action="append", default=[], metavar="NAME=VALUE",
                         help="a message header (repeatable)")
    explain.add_argument("--partition", type=int, default=0)
    explain.add_argument("--offset", type=int, default=0)

    test = commands.add_parser(
        "test", help="run route tests (messages -> expected decisions of each route), without Kafka or Redis",
        description=textwrap.fill(
            "Feed the messages of a route tests file to its routes file and compare what each route decides "
            "(enqueue, skip, dead_letter, and the job's queue, function, arguments and options) with what the "
            "file expects; a failure prints the difference. The format: docs/testing.md."),
        epilog="exit codes: 0 every test passed; 1 a test failed, or a file is invalid",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    test.add_argument("files", nargs="*", type=Path, metavar="FILE",
                      help="route tests files (default: the one beside the routes file, e.g. routes_test.yaml)")
    test.add_argument("-c", "--config", type=Path, metavar="FILE",
                      help="test this routes file (default: the `routes:` of each tests file, else the file "
                           "named like it without _test)")
    test.add_argument("-v", "--verbose", action="store_true", help="also list the tests that passed")

    produce = commands.add_parser(
        "produce", help="send each line of a file (or stdin) to a topic as one message",
        description=textwrap.fill(
            "Send one message per line of FILE (or standard input) to a topic, and wait until Kafka acknowledged "
            "them. A line is sent as its bytes without the line ending (JSON lines stay text); blank lines are "
            "skipped. The connection comes from the routes file's `kafka` section (SSL and SASL included), or "
            "from --bootstrap-servers. A progress bar is shown when reading a file on a terminal. The Python "
            "API and details: docs/producer.md."),
        epilog=f"exit codes:\n  {defaults.EXIT_OK}  every line was delivered\n"
               f"  {defaults.EXIT_CONFIG}  some lines were not (each is listed), or bad arguments or routes file\n"
               f"  {defaults.EXIT_RUNTIME}  Kafka or the topic could not be reached: nothing was sent",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    produce.add_argument("file", nargs="?", default="-", metavar="FILE|-",
                         help="the lines to send (default: standard input)")
    produce.add_argument("-t", "--topic", required=True)
    produce.add_argument("-k", "--key", help="the key of every message")
    produce.add_argument("-H", "--header", action="append", default=[], metavar="NAME=VALUE",
                         help="a header of every message (repeatable)")
    produce.add_argument("-p", "--partition", type=int, help="send to this partition (default: by key)")
    produce.add_argument("-z", "--compression", choices=["gzip", "snappy", "lz4", "zstd"],
                         help="compress the batches with this codec (default: none)")
    produce.add_argument("--json", action="store_true",
                         help="check that each line is JSON first; lines that are not are listed and not sent")
    connect = produce.add_mutually_exclusive_group()
    connect.add_argument("-c", "--config", type=Path, metavar="FILE",
                         help=f"use this routes file's kafka section (default: {DEFAULT_CONFIG})")
    connect.add_argument("-b", "--bootstrap-servers", metavar="HOST:PORT[,...]",
                         help="connect here (plaintext) instead of reading a routes file")
    produce.add_argument("--timeout", type=float, default=30.0,
                         help="seconds a message may take to be acknowledged (default 30)")
    registry = produce.add_argument_group(
        "Schema Registry", "encode each line (JSON) with a registered schema into the Confluent wire format, as a "
                           "producer's Avro, Protobuf or JSON Schema serializer does (docs/schema-registry.md)")
    registry.add_argument("--subject", help="the subject whose schema encodes the lines")
    registry.add_argument("--schema-version", default="latest",
                          help="the subject's schema version (default: latest)")
    registry.add_argument("--register", type=Path, metavar="FILE",
                          help="register this schema (.avsc, .proto or .json) under the subject first, and encode "
                               "with it (an identical schema keeps its id)")
    registry.add_argument("--message", dest="protobuf_message", metavar="NAME",
                          help="with a Protobuf schema: the message each line is (default: the schema's first)")
    registry.add_argument("--registry", metavar="URL",
                          help="the registry's URL (default: the routes file's schema_registry section)")

    worker = commands.add_parser(
        "worker", help="run an RQ worker with the plugin folders on its path",
        description="Run RQ workers for the given queues (default: every queue the routes file feeds) with the "
                    "plugin folders importable, the routes' serializer, and RQ's scheduler on (for retries with "
                    "intervals and jobs due later). One worker runs one job at a time: --processes runs a pool; "
                    "--no-fork saves the fork per job.")
    _config_option(worker)
    worker.add_argument("queues", nargs="*", metavar="QUEUE")
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.add_argument("--name", help="worker name (default: RQ's; one worker only)")
    worker.add_argument("-n", "--processes", type=_positive, default=1, metavar="N",
                        help="run a pool of N worker processes (RQ's WorkerPool; default 1): a worker runs one job "
                             "at a time")
    worker.add_argument("--no-fork", dest="fork", action="store_false",
                        help="run each job in the worker process itself (RQ's SimpleWorker) instead of a fork per "
                             "job: several times the jobs per second, for handlers that are safe in a long-lived "
                             "process (no state leaking between jobs)")
    worker.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                        help="RQ's log level (default info: a line per job)")

    replay = commands.add_parser(
        "replay", help="consume a group's messages again, on purpose, as new jobs",
        description=textwrap.fill(
            "Move a group's committed offsets back (to the earliest offset, an offset, or a time) so that its "
            "messages become jobs again: each replayed message becomes one new job with an id of its own (ending "
            "in -rN; the first run's jobs are untouched), enqueued once even if the daemon is killed during the "
            "replayed run. Messages the group had not handled yet are consumed as usual, once. The group must "
            "have no active member (stop its daemons first); run the same replay again to complete one that was "
            "interrupted. Start the daemon afterwards to run it. --dry-run prints the plan only, also while the "
            "group has active members (then followed by a note naming them: the replay itself is refused until "
            "they stop)."),
        epilog="exit codes: 0 done (or planned, with --dry-run); 1 refused (active members, another replay under "
               "way, unknown group, topic or route, nothing to replay) or bad arguments; 3 Kafka or Redis "
               "unreachable, or a partition could not be moved",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _config_option(replay)
    replay.add_argument("-g", "--group", required=True, help="the consumer group (as in the routes file)")
    replay.add_argument("-t", "--topic", action="append", default=[], metavar="TOPIC",
                        help="a topic of the group to replay (repeatable; default: all its topics)")
    replay.add_argument("-p", "--partition", action="append", type=int, default=[], metavar="N",
                        help="only this partition number (repeatable; default: all)")
    replay.add_argument("-r", "--route", action="append", default=[], metavar="NAME",
                        help="run only this route again (repeatable; default: every route of the topics)")
    start_at = replay.add_mutually_exclusive_group(required=True)
    start_at.add_argument("--earliest", action="store_true", help="from the earliest offset still in the topic")
    start_at.add_argument("--offset", type=int, metavar="N", help="from this offset (of each chosen partition)")
    start_at.add_argument("--time", type=time_ms, metavar="TIME",
                          help="from the first message at or after this time: ISO 8601 (UTC without an offset) or "
                               "seconds or milliseconds since the epoch")
    replay.add_argument("-n", "--dry-run", action="store_true",
                        help="print the plan (even while the group has active members); change nothing")

    letters = commands.add_parser(
        "dead-letters", help="list dead letters, or re-drive them through the routes that rejected them",
        description=textwrap.fill(
            "Read the dead-letter topics of the routes file (or --topic) from the start, without joining a group. "
            "`list` shows each chosen dead letter: when, where, the route and kind, the reason, where it came "
            "from, which earlier dead letter of the same message it repeats (a replay dead-letters a message "
            "again), its key and the start of its value. `redrive` runs each chosen one through the route(s) that "
            "rejected it, with the current routes file: one that passes now becomes a job (its id ends in -dP_O, "
            "its place in the dead-letter topic), at most one per message and route: a repeat is not run, and the "
            "job is enqueued once even when a re-drive is interrupted and run again; one that still fails is "
            "reported with its new reason and stays where it is. Nothing is ever deleted from a dead-letter "
            "topic."),
        epilog="exit codes: 0 done (redrive: every chosen dead letter passed); 1 some still fail or lost their "
               "route, or bad arguments (an unknown --kind or --route, a --topic that neither exists nor is a "
               "dead_letter topic of the routes file); 3 Kafka or Redis unreachable",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    letters.add_argument("action", choices=["list", "redrive"])
    _config_option(letters)
    letters.add_argument("-t", "--topic", action="append", default=[], metavar="TOPIC",
                         help="a dead-letter topic (repeatable; default: every dead_letter topic of the routes file)")
    letters.add_argument("-r", "--route", action="append", default=[], metavar="NAME",
                         help="only those a route of this name rejected (repeatable)")
    letters.add_argument("-k", "--kind", action="append", default=[], metavar="KIND",
                         help="only this kind: decode, oversize, schema, filter, hook, tombstone, headers, "
                              "serialize, schedule (repeatable)")
    letters.add_argument("--since", type=time_ms, metavar="TIME",
                         help="only those dead-lettered at or after TIME (ISO 8601, UTC without an offset, or seconds "
                              "or milliseconds since the epoch)")
    letters.add_argument("--until", type=time_ms, metavar="TIME", help="only those dead-lettered before TIME")
    letters.add_argument("--limit", type=_positive, default=100, metavar="N", help="list: show at most N (100)")
    letters.add_argument("-n", "--dry-run", action="store_true", help="redrive: decide, but write no job")
    letters.add_argument("--at", action="append", default=[], metavar="TOPIC:PARTITION:OFFSET",
                         help="redrive: only the dead letter at this place (repeatable), as the console's selection "
                              "does; the other filters still apply")

    _console_commands(commands)

    _held_commands(commands)

    topics = commands.add_parser(
        "topics", help="compare routes.yaml's topics with the cluster (plan), or make them so (apply)",
        description=textwrap.fill(
            "Compare the topics declared under `topics:` in the routes file with the cluster: `plan` prints what "
            "differs (topics to create, partitions to add, configs to set) and what will not be changed, with "
            "why (fewer partitions, another replication factor); `apply` prints the same and carries out the "
            "changes. A config name the cluster does not know (a typo) is reported, with the name it looks like, "
            "and nothing is applied. Nothing is ever deleted."),
        epilog="exit codes: 0 done (plan: printed); 1 an invalid routes file, or a topic config name the "
               "cluster does not know (nothing applied); 3 Kafka unreachable or a change refused by the cluster",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    topics.add_argument("action", choices=["plan", "apply"])
    _config_option(topics)

    for name, text in (("stop", "send SIGTERM to the daemon in the pidfile and wait for it to exit"),
                       ("status", "say whether the daemon in the pidfile runs (and what it does, with --http-port)")):
        sub = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        sub.add_argument("--pidfile", type=Path, required=True, metavar="PATH")
        if name == "stop":
            sub.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")
        if name == "status":
            sub.add_argument("--http-port", type=int, metavar="PORT",
                             help="also fetch /status.json from this port on 127.0.0.1")
    reload = commands.add_parser(
        "reload", help="send SIGHUP to the daemon in the pidfile (with -c, check that routes file first)",
        description=textwrap.fill(
            "Send SIGHUP to the daemon in the pidfile. On SIGHUP the daemon reads again, from disk, the file it "
            "was started with (its own -c, with ${VAR}s from its own environment), checks it, runs the route "
            "tests beside it, and applies it or keeps its current routes; its log says which (`reload applied` "
            "or `reload rejected`). With -c, the routes file is first checked here as `karafkad check -q` does "
            "(structure, handlers, schemas, filters, route tests) and, when it does not check, its problems are "
            "printed and the daemon is not signalled: give the file the daemon runs, in an environment with the "
            "variables it uses."),
        epilog=f"exit codes: {defaults.EXIT_OK} SIGHUP sent; {defaults.EXIT_CONFIG} the file given with -c does "
               f"not check (nothing sent); {defaults.EXIT_RUNTIME} no daemon holds the pidfile (none, or a stale one)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    reload.add_argument("--pidfile", type=Path, required=True, metavar="PATH")
    reload.add_argument("-c", "--config", type=Path, metavar="FILE",
                        help="check this routes file first (the one the daemon runs); nothing is sent when it "
                             "does not check")
    return parser


def _console_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    """The console's actions as commands (`pause`, `resume`, `paused`), and `web-password` for web.auth."""
    pause_epilog = (f"exit codes: {defaults.EXIT_OK} done (also when it already was so); {defaults.EXIT_CONFIG} an "
                    f"unknown route or topic, or a group to name; {defaults.EXIT_RUNTIME} Redis unreachable")
    for name, verb in (("pause", "pause"), ("resume", "resume")):
        sub = commands.add_parser(
            name, help=f"{verb} a route or a partition on every daemon of the deployment",
            description=textwrap.fill(
                f"{verb.capitalize()} a route (every partition of its topics in its group) or one partition, on "
                "every daemon that shares the routes file's top-level Redis: they obey within a second, keep "
                "their group membership while paused (nothing is committed past what was handled, nothing is "
                "lost), and keep a pause across restarts until it is resumed. Pausing a route pauses its topics: "
                "the other routes of those topics wait too. The same operation as the console's buttons; noted "
                "in the events list with who ran it."),
            epilog=pause_epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
        _config_option(sub)
        target = sub.add_mutually_exclusive_group(required=True)
        target.add_argument("-r", "--route", metavar="NAME", help=f"{verb} this route")
        target.add_argument("-p", "--partition", metavar="TOPIC:N", help=f"{verb} partition N of TOPIC")
        sub.add_argument("-g", "--group", metavar="GROUP",
                         help="the route's or topic's group (needed when two groups have it)")
    paused = commands.add_parser(
        "paused", help="list the routes and partitions paused on every daemon, by whom and since when",
        description="List the pauses in force (karafkad pause, or the console), from the top-level Redis.",
        epilog=f"exit codes: {defaults.EXIT_OK} listed; {defaults.EXIT_CONFIG} a bad routes file; "
               f"{defaults.EXIT_RUNTIME} Redis unreachable")
    _config_option(paused)
    password = commands.add_parser(
        "web-password", help="print the hash of a password for web.auth.password_hash",
        description=textwrap.fill(
            "Read a password (from the terminal, without echo, twice; or the first line of standard input when "
            "it is not a terminal) and print its hash for the routes file's web.auth.password_hash (or "
            "password_hash_file): PBKDF2-HMAC-SHA256 with a random salt. The password itself is never stored."),
        epilog=f"exit codes: {defaults.EXIT_OK} printed; {defaults.EXIT_CONFIG} no password, or the two differ",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    password.add_argument("--iterations", type=_positive, default=600_000, metavar="N",
                          help="PBKDF2 iterations (default 600000)")
