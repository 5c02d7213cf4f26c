"""`karafkad dead-letters list` and `redrive`: read the dead-letter topics, show or re-drive what is chosen."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence

import redis
from kafka.errors import KafkaError
from redis import Redis

from karafkad import defaults
from karafkad.cli.inspection import load_table
from karafkad.cli.output import operator, progress_bar
from karafkad.clients.kafka import failures
from karafkad.clients.kafka.reader import MessageReader, TopicReader
from karafkad.clients.redis.connection import connect, describe
from karafkad.config.settings import RedisSettings
from karafkad.errors import EnqueueError, RegistryUnavailable
from karafkad.ops.dead_letter_reading import letters_at, parse_place
from karafkad.ops.dead_letter_states import RouteState, redriven_routes, route_states
from karafkad.ops.dead_letters import Repeats, Selection, StillFailing, preview, redrive, select
from karafkad.routes.table import RouteTable
from karafkad.store.dead_letter_headers import StoredDeadLetter
from karafkad.text import clip, close_match, columns, plural
from karafkad.times import utc_ms


def run(args: argparse.Namespace) -> int:
    table = load_table(args.config)
    if table is None:
        return defaults.EXIT_CONFIG
    selection = _selection(table, args)
    if selection is None:
        return defaults.EXIT_CONFIG
    if args.at:
        return _redrive_at(table, args, selection)
    topics = args.topic or list(table.dead_letter_topics())
    if not topics:
        print(f"karafkad dead-letters: no route of {args.config} has a dead_letter topic (give --topic)",
              file=sys.stderr)
        return defaults.EXIT_CONFIG
    try:
        reader = TopicReader(table.config.kafka, topics)
    except KafkaError as exc:
        print(f"karafkad dead-letters: Kafka: {failures.explain(exc, table.config.kafka)}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    try:
        strangers = [t for t in reader.missing if t in args.topic and t not in table.dead_letter_topics()]
        if strangers:
            print(f"karafkad dead-letters: {_unknown_topics(table, strangers)}", file=sys.stderr)
            return defaults.EXIT_CONFIG
        for topic in reader.missing:
            print(f"karafkad dead-letters: topic {topic!r} does not exist (no dead letter yet?)", file=sys.stderr)
        letters = select(reader.records(), selection)
        if args.action == "list":
            return _list(table, letters, args.limit)
        return _redrive(table, letters, reader.total, args.dry_run, selection.routes)
    except KafkaError as exc:
        print(f"karafkad dead-letters: Kafka: {failures.explain(exc, table.config.kafka)}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    finally:
        reader.close()


def _redrive_at(table: RouteTable, args: argparse.Namespace, selection: Selection) -> int:
    """`redrive --at PLACE...`: re-drive the dead letters at those places (that the other filters choose)."""
    places = [parse_place(text) for text in args.at]
    if args.action != "redrive" or None in places:
        wrong = [text for text, place in zip(args.at, places, strict=True) if place is None]
        print("karafkad dead-letters: " + (f"--at is TOPIC:PARTITION:OFFSET, not {wrong[0]!r}" if wrong else
                                           "--at is for redrive (list shows every dead letter)"), file=sys.stderr)
        return defaults.EXIT_CONFIG
    try:
        reader = MessageReader(table.config.kafka, "dead-letters")
    except KafkaError as exc:
        print(f"karafkad dead-letters: Kafka: {failures.explain(exc, table.config.kafka)}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    try:
        letters, missing = letters_at(reader, [p for p in places if p is not None])
    except KafkaError as exc:
        print(f"karafkad dead-letters: Kafka: {failures.explain(exc, table.config.kafka)}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    finally:
        reader.close()
    for why in missing:
        print(f"karafkad dead-letters: {why}", file=sys.stderr)
    chosen = [letter for letter in letters if selection.matches(letter)]
    status = _redrive(table, chosen, len(chosen), args.dry_run, selection.routes)
    return defaults.EXIT_CONFIG if missing else status


def _selection(table: RouteTable, args: argparse.Namespace) -> Selection | None:
    """The dead letters the arguments choose, or None after saying what is wrong with them (an unknown kind; a
    route the routes file does not have, with a close match)."""
    names = sorted({route.name for route in table.routes})
    unknown = [name for name in args.route if name not in names]
    if unknown:
        print(f"karafkad dead-letters: no route {_with_hints(unknown, names)} in {table.config.file}; its routes: "
              f"{', '.join(names) or 'none'} (for dead letters of a route since removed or renamed, leave out "
              "--route)", file=sys.stderr)
        return None
    try:
        return Selection(tuple(args.route), tuple(args.kind), args.since, args.until)
    except ValueError as exc:
        print(f"karafkad dead-letters: {exc}", file=sys.stderr)
        return None


def _unknown_topics(table: RouteTable, missing: Iterable[str]) -> str:
    """What is wrong with --topic names that neither exist nor are a dead_letter topic of the routes file."""
    known = list(table.dead_letter_topics())
    return (f"topic {_with_hints(missing, known)} does not exist and is no dead_letter topic of "
            f"{table.config.file}; its dead_letter topics: {', '.join(known) or 'none'}")


def _with_hints(names: Iterable[str], known: Sequence[str]) -> str:
    """`'chrage' (did you mean 'charge'?)`, for each name not known."""
    out = []
    for name in names:
        close = close_match(name, known)
        out.append(f"{name!r}" + (f" (did you mean {close!r}?)" if close else ""))
    return ", ".join(out)


def _list(table: RouteTable, letters: Iterable[StoredDeadLetter], limit: int) -> int:
    rows = [("DEAD-LETTERED", "DEAD LETTER", "ROUTE", "RE-DRIVE NOW", "KIND", "REASON", "FROM", "REPEAT OF", "KEY",
             "VALUE")]
    repeats = Repeats()
    shown: list[tuple[StoredDeadLetter, StoredDeadLetter | None]] = []
    more = repeated = 0
    for letter in letters:
        _, earlier = repeats.meet(letter)
        repeated += earlier is not None
        if len(shown) >= limit:
            more += 1
            continue
        shown.append((letter, earlier))
    states = route_states(table, [letter for letter, _ in shown], _redriven(table, [letter for letter, _ in shown]))
    for (letter, earlier), state in zip(shown, states, strict=True):
        original = letter.original
        rows.append((utc_ms(letter.timestamp), letter.where, ",".join(letter.routes), _states(state), letter.kind,
                     clip(letter.reason, 60), letter.origin, earlier.where if earlier else "-",
                     preview(original.key, 20) if original.key is not None else "-", preview(original.value)))
    for line in columns(rows):
        print(line)
    print(f"{plural(len(shown), 'dead letter')} shown" + (f"; {more} more (--limit)" if more else "")
          + (f"; {plural(repeated, 'repeat')} of an earlier dead letter of the same message (REPEAT OF: a replay "
             "dead-lettered it again; a re-drive makes one job of them)" if repeated else ""))
    if shown:
        print("RE-DRIVE NOW, route by route, with this routes file: done (re-driven before), passes (a re-drive "
              "makes its job), fails (rejected again), no job (filtered or vetoed), gone (no such route now)")
    return defaults.EXIT_OK


def _redriven(table: RouteTable, letters: list[StoredDeadLetter]) -> list[set[str]] | None:
    """The routes of each letter re-driven before, from the Redis marks; None (said on stderr) when a Redis
    cannot be read: the list is still shown, without `done`."""
    clients: dict[RedisSettings, Redis[bytes]] = {}

    def client_for(settings: RedisSettings) -> Redis[bytes]:
        if settings not in clients:
            clients[settings] = connect(settings)
        return clients[settings]

    try:
        return redriven_routes(table, client_for, letters)
    except redis.RedisError as exc:
        print(f"karafkad dead-letters: Redis: {describe(exc)}; which routes were re-driven before is not shown",
              file=sys.stderr)
        return None
    finally:
        for client in clients.values():
            client.close()


def _states(state: dict[str, RouteState]) -> str:
    """`a fails, b done`; one word for a letter of one route."""
    if len(state) == 1:
        return next(iter(state.values()))
    return ", ".join(f"{route} {what}" for route, what in state.items()) or "-"


def _redrive(table: RouteTable, letters: Iterable[StoredDeadLetter], total: int, dry_run: bool,
             routes: Sequence[str]) -> int:
    clients: dict[RedisSettings, Redis[bytes]] = {}

    def client_for(settings: RedisSettings) -> Redis[bytes]:
        if settings not in clients:
            clients[settings] = connect(settings)
        return clients[settings]

    bar = progress_bar(total)
    started = time.monotonic()

    def progress(count: int) -> None:
        if bar is not None:
            bar.update(count, f"{plural(count, 'dead letter')}")

    try:
        report = redrive(table, client_for, letters, dry_run=dry_run, progress=progress, routes=routes,
                         who=operator())
    except (EnqueueError, RegistryUnavailable, redis.RedisError) as exc:
        if bar is not None:
            bar.finish(0)
        # An EnqueueError already says "Redis: ..." (and why, in words), a RegistryUnavailable "schema registry ..."
        said = f"Redis: {describe(exc)}" if isinstance(exc, redis.RedisError) else str(exc)
        print(f"karafkad dead-letters: {said}; nothing after the last chunk was written: run the same "
              "re-drive again", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    finally:
        for client in clients.values():
            client.close()
    if bar is not None:
        bar.finish(total, "done")
    for failing in report.failing:
        print(f"still failing, kept: {failing.letter.where} ({_failing_routes(failing)}): {failing.reason}",
              file=sys.stderr)
    for letter, why in report.orphans:
        print(f"not re-driven, kept: {letter.where}: {why}", file=sys.stderr)
    for letter, earlier in report.repeats:
        print(f"not re-driven: {letter.where} (from {letter.origin}): repeat of {earlier.where}")
    print(f"{report.summary(dry_run)} ({time.monotonic() - started:.1f} s)"
          + ("; dry run: nothing was written" if dry_run else ""))
    return defaults.EXIT_OK if not report.failing and not report.orphans else defaults.EXIT_CONFIG


def _failing_routes(failing: StillFailing) -> str:
    """`route a`, or `route a of a,b` when the letter names more routes than those still failing."""
    named = failing.letter.routes
    return f"route {','.join(failing.routes)}" + (f" of {','.join(named)}" if len(failing.routes) < len(named)
                                                  else "")


