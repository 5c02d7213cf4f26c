"""`karafkad held list|retry|skip`: the keys ordered routes hold behind a failed job; release them (ops/held.py)."""

from __future__ import annotations

import argparse
import json
import sys

from karafkad import defaults
from karafkad.cli.inspection import load_table
from karafkad.cli.output import operator
from karafkad.clients.redis.connection import connect
from karafkad.errors import EnqueueError
from karafkad.ops.held import HeldOperations, Outcome, matching
from karafkad.routes.table import RouteTable
from karafkad.text import clip, close_match, columns, plural
from karafkad.times import utc_ms


def run(args: argparse.Namespace) -> int:
    table = load_table(args.config)
    if table is None:
        return defaults.EXIT_CONFIG
    problem = _arguments_problem(table, args)
    if problem:
        print(f"karafkad held {args.action}: {problem}", file=sys.stderr)
        return defaults.EXIT_CONFIG
    operations = HeldOperations(table, connect)
    try:
        if args.action == "list":
            return _list(operations, args.route, args.json)
        return _release(operations, args)
    except EnqueueError as exc:  # it says "Redis: ..." and why, in words
        print(f"karafkad held {args.action}: {exc}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    finally:
        operations.close()


def _arguments_problem(table: RouteTable, args: argparse.Namespace) -> str:
    """What is wrong with the arguments ('' when nothing): a route that is not in the file or has no ordering, or
    a choice of keys that names none or two ways at once."""
    ordered = sorted({r.name for r in table.routes if r.spec.ordered})
    if args.route is not None:
        names = sorted({r.name for r in table.routes})
        if args.route not in names:
            close = close_match(args.route, names)
            return (f"no route {args.route!r}{f' (did you mean {close!r}?)' if close else ''} in {table.config.file}; "
                    f"its ordered routes: {', '.join(ordered) or 'none'}")
        if args.route not in ordered:
            return (f"route {args.route!r} has no `ordering`: it holds no key; the ordered routes of "
                    f"{table.config.file}: {', '.join(ordered) or 'none'}")
    if args.action == "list":
        return ""
    if not ordered:
        return f"no route of {table.config.file} has `ordering`: no key can be held"
    by_key = args.key is not None or args.all
    if args.jobs and (by_key or args.route is not None):
        return "name failed jobs, or --route with --key or --all, not both"
    if not args.jobs and not by_key:
        return "name the failed job(s) (as `karafkad held list` shows them), or --route NAME with --key KEY or --all"
    if by_key and args.route is None:
        return "--key and --all need --route"
    if args.key is not None and args.all:
        return "--key or --all, not both"
    return ""


def _list(operations: HeldOperations, route: str | None, as_json: bool) -> int:
    found = operations.listing(route)
    if as_json:
        print(json.dumps({"held_keys": [key.as_dict() for key in found.keys], "unread_failed_jobs": found.unread},
                         indent=2))
        return defaults.EXIT_OK
    if not operations.ordered(route):
        print(f"no route of {operations.table.config.file} has `ordering`: no key can be held")
        return defaults.EXIT_OK
    rows = [("ROUTE", "PARTITION", "KEY", "FAILED JOB", "FAILED AT", "WAITING", "ERROR")]
    for key in found.keys:
        rows.append((key.route, f"{key.topic}[{key.partition}]", clip(key.shown_key, 30), key.job_id,
                     utc_ms(key.failed_at), key.shown_waiting, clip(key.error or "-", 60)))
    if found.keys:
        for line in columns(rows):
            print(line)
    print(f"{plural(len(found.keys), 'held key')}" + ("; `karafkad held retry JOB` runs a failed job again (the rest "
                                                    "of its key follows), `karafkad held skip JOB` runs the rest "
                                                    "without it" if found.keys else ""))
    for queue, count in sorted(found.unread.items()):
        print(f"note: queue {queue!r} has {plural(count, 'older failed job')} than the newest "
              f"{defaults.FAILED_SCAN_LIMIT:,} read; a key one of them holds is not listed")
    return defaults.EXIT_OK


def _release(operations: HeldOperations, args: argparse.Namespace) -> int:
    action = args.action
    refused: list[tuple[str, str]] = []
    if args.jobs:
        keys, refused = operations.named(list(dict.fromkeys(args.jobs)))
    else:
        listed = operations.listing(args.route).keys
        keys = listed if args.all else matching(listed, args.key)
        if args.key is not None and not keys:
            held = ", ".join(repr(k.shown_key) for k in listed) or "none"
            print(f"karafkad held {action}: route {args.route!r} holds no key {args.key!r}; its held keys: {held}",
                  file=sys.stderr)
            return defaults.EXIT_CONFIG
        if args.all and not args.yes:
            for key in keys:
                print(f"would {action} {key.job_id} ({key.route}, key {key.shown_key!r}, "
                      f"{key.shown_waiting} waiting)")
            print(f"karafkad held {action}: --all chooses {plural(len(keys), 'held key')} of route {args.route!r}; "
                  "add --yes to release them", file=sys.stderr)
            return defaults.EXIT_CONFIG
    outcome = operations.release(action, keys, operator())
    outcome.refused[:0] = refused
    _report(outcome)
    return defaults.EXIT_CONFIG if outcome.refused else defaults.EXIT_OK


def _report(outcome: Outcome) -> None:
    for key, release in outcome.done:
        where = f"{key.route}, {key.topic}[{key.partition}], key {key.shown_key!r}"
        waiting = plural(key.waiting, "job") if key.counted_all else f"{key.waiting}+ jobs"
        if outcome.action == "skip":
            note = ("; it was its key's last job: the key's next message is queued at once" if release.untied
                    else "")
            print(f"skipped {key.job_id} ({where}): it stays in RQ's failed registry; the {waiting} waiting behind "
                  f"it run now, in order{note}")
        else:
            print(f"retried {key.job_id} ({where}): queued again; once it succeeds, the {waiting} waiting behind it "
                  "run in order")
    for job_id, why in outcome.refused:
        print(f"karafkad held {outcome.action}: {job_id}: refused: {why}", file=sys.stderr)
    print(outcome.summary())

