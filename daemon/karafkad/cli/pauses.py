"""`karafkad pause`, `resume` and `paused`: the console's pause buttons, from the command line (ops/pauses.py)."""

from __future__ import annotations

import argparse
import sys

import redis

from karafkad import defaults
from karafkad.cli.inspection import load_table
from karafkad.cli.output import operator
from karafkad.clients.redis.connection import connect, describe
from karafkad.ops import pauses
from karafkad.routes.table import RouteTable
from karafkad.store.pauses import PauseTarget
from karafkad.text import columns, plural
from karafkad.times import utc_ms


def _target(table: RouteTable, args: argparse.Namespace) -> PauseTarget | None:
    """The target the arguments name, or None after saying why they name none."""
    if args.route is not None:
        found = pauses.route_target(table, args.route, args.group)
    else:
        topic, _, number = args.partition.rpartition(":")
        if not topic or not number.isdigit():
            print(f"karafkad {args.command}: --partition is TOPIC:N (a topic and a partition number), not "
                  f"{args.partition!r}", file=sys.stderr)
            return None
        found = pauses.partition_target(table, topic, int(number), args.group)
    if isinstance(found, pauses.Refused):
        print(f"karafkad {args.command}: {found.reason}", file=sys.stderr)
        return None
    return found


def run(args: argparse.Namespace) -> int:
    table = load_table(args.config)
    if table is None:
        return defaults.EXIT_CONFIG
    target = None
    if args.command != "paused":
        target = _target(table, args)
        if target is None:
            return defaults.EXIT_CONFIG
    client = connect(table.config.redis)
    try:
        if target is None:
            return _list(client)
        if args.command == "pause":
            print(pauses.pause(client, table, target, operator()))
        else:
            print(pauses.resume(client, target, operator()))
        return defaults.EXIT_OK
    except redis.RedisError as exc:
        print(f"karafkad {args.command}: Redis: {describe(exc, table.config.redis)}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    finally:
        client.close()


def _list(client: redis.Redis[bytes]) -> int:
    found = pauses.paused(client)
    rows = [("GROUP", "PAUSED", "BY", "SINCE")]
    for pause in found:
        target = pause.target
        what = f"route {target.route}" if target.route is not None else f"partition {target.topic}[{target.partition}]"
        rows.append((target.group, what, pause.who, utc_ms(int(pause.at * 1000))))
    for line in columns(rows if found else []):
        print(line)
    print(f"{plural(len(found), 'pause')} in force")
    return defaults.EXIT_OK
