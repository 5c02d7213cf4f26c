"""`check`, `routes` and `explain`: look at a routes file without Kafka or Redis."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from karafkad import defaults
from karafkad.config import load_config
from karafkad.errors import ConfigError

if TYPE_CHECKING:
    from karafkad.routing import Route, RouteTable


def print_problems(error: ConfigError, stream: Any = None) -> None:
    stream = stream or sys.stderr
    for problem in error.problems:
        print(problem, file=stream)
    count = len(error.problems)
    print(f"{count} problem{'s' if count != 1 else ''} found", file=stream)


def _load(config: Path) -> RouteTable | None:
    try:
        settings = load_config(config)
        # Imported only once the file itself checks: routing brings in RQ and
        # Redis (a sixth of a second), which a file with a typo never needs.
        from karafkad.routing import build_route_table

        return build_route_table(settings)
    except ConfigError as exc:
        print_problems(exc)
        return None


def check(config: Path, *, quiet: bool = False) -> int:
    table = _load(config)
    if table is None:
        return defaults.EXIT_CONFIG
    if not quiet:
        for warning in table.config.warnings:
            print(f"{warning} (warning)")
    from karafkad.routetests import check_route_tests, find_route_tests

    tests = find_route_tests(config)
    if tests is not None and not check_route_tests(tests, table, quiet=quiet):
        return defaults.EXIT_CONFIG
    if not quiet:
        groups = len(table.groups)
        routes = len(table.routes)
        queues = len(table.queues())
        summary = f"{config}: OK: {groups} group{'s' * (groups != 1)}, {routes} route{'s' * (routes != 1)}, " \
                  f"{queues} queue{'s' * (queues != 1)}"
        print(summary)
    return defaults.EXIT_OK


def routes_table(config: Path) -> int:
    table = _load(config)
    if table is None:
        return defaults.EXIT_CONFIG
    headers = ("GROUP", "ROUTE", "TOPICS", "HANDLER", "QUEUE", "FILTER", "SCHEMA", "DEAD LETTER", "MODE")
    rows = []
    for group in table.groups.values():
        for route in group.routes:
            spec = route.spec
            schema = spec.schema if isinstance(spec.schema, str) else ("inline" if spec.schema is not None else "-")
            hooks = f" +{len(spec.before_enqueue)} hook" if spec.before_enqueue else ""
            rows.append((group.id, spec.name, ",".join(spec.topics), spec.handler + hooks, spec.queue,
                         _clip(spec.filter or "-", 40), str(schema), spec.dead_letter or f"- ({spec.on_error})",
                         ("batch" if spec.batch else "each") + f"/{spec.decode}"))
    widths = [max(len(str(r[i])) for r in (headers, *rows)) for i in range(len(headers))]
    for row in (headers, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return defaults.EXIT_OK


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


class _Record:
    """A message given on the command line, shaped like a kafka-python ConsumerRecord."""

    def __init__(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
                 headers: Sequence[tuple[str, bytes | None]]) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = 0
        self.key = key
        self.value = value
        self.headers = list(headers)


def explain(args: argparse.Namespace) -> int:
    table = _load(args.config)
    if table is None:
        return defaults.EXIT_CONFIG
    if args.tombstone:
        value = None
    elif args.value is not None:
        value = args.value.encode()
    elif str(args.file) == "-":
        value = sys.stdin.buffer.read()
    else:
        try:
            value = Path(args.file).read_bytes()
        except OSError as exc:
            print(f"{args.file}: cannot read the message: {exc.strerror or exc}", file=sys.stderr)
            return defaults.EXIT_CONFIG
    headers = []
    for item in args.header:
        name, _, text = item.partition("=")
        headers.append((name, text.encode()))
    record = _Record(args.topic, args.partition, args.offset, args.key.encode() if args.key is not None else None,
                     value, headers)
    matched = False
    for group in table.groups.values():
        routes = group.by_topic.get(args.topic, ())
        if not routes:
            continue
        matched = True
        print(f"group {group.id}")
        for route in routes:
            _explain_route(route, record, table.config.daemon.max_message_bytes)
        from karafkad.pipeline import Pipeline

        outcome = Pipeline(group, table.config.daemon.max_message_bytes).process(
            args.topic, args.partition, [record])
        for job in outcome.jobs:
            print(f"  => ENQUEUE {job.job_id} on queue {job.template.queue!r}: "
                  f"{job.template.func_name}(*{_json(job.args)})")
            options = {k: v for k, v in vars(_route_named(group.routes, job.route).spec.job).items() if v}
            print(f"     route {job.route}; job options {_json(options)}")
        for letter in outcome.dead_letters:
            print(f"  => DEAD LETTER to {letter.topic!r} (route {', '.join(letter.route_names)}): "
                  f"{letter.kind}: {letter.reason}")
        for (route_name, reason), _count in outcome.skipped.items():
            print(f"  => SKIP (route {route_name}): {reason}")
    if not matched:
        print(f"no route consumes topic {args.topic!r}; topics with routes: "
              f"{', '.join(sorted({t for g in table.groups.values() for t in g.by_topic}))}")
        return defaults.EXIT_CONFIG
    return defaults.EXIT_OK


def _route_named(routes: Sequence[Route], name: str) -> Route:
    return next(r for r in routes if r.name == name)


def _explain_route(route: Route, record: _Record, max_bytes: int) -> None:
    """Each step of the route on this message, for a person to read."""
    spec = route.spec
    print(f"  route {spec.name} -> {spec.handler}")
    if record.value is None:
        print(f"    value: null (tombstone: {spec.tombstone})")
        params: Any = None
    elif len(record.value) > max_bytes:
        print(f"    value: {len(record.value)} bytes, over the {max_bytes}-byte limit")
        return
    else:
        try:
            params = route.decode(record.value)
        except ValueError as exc:
            print(f"    decode ({spec.decode}): FAILED: {exc}")
            return
        print(f"    decode ({spec.decode}): {_json(params)}")
    if route.validate is not None:
        problem = route.validate(params)
        print(f"    schema: {'valid' if problem is None else 'INVALID: ' + problem}")
        if problem is not None:
            return
    if route.filter is not None:
        from karafkad.decoding import text_or_none
        from karafkad.expressions import FilterRuntimeError

        headers = {k: text_or_none(v) for k, v in record.headers}
        try:
            passed = route.filter(params, text_or_none(record.key), headers, record.topic, record.partition,
                                  record.offset, record.timestamp)
            print(f"    filter {_clip(spec.filter or '', 60)!r}: {'true' if passed else 'false'}")
        except FilterRuntimeError as exc:
            print(f"    filter {_clip(spec.filter or '', 60)!r}: FAILED: {exc}")
            return
        if not passed:
            return
    from karafkad.pipeline import message_meta

    meta = message_meta(spec.group, spec.name, record)
    for hook, takes_meta in route.hooks:
        try:
            verdict = hook.function(params, meta) if takes_meta else hook.function(params)
        except Exception as exc:  # the operator's hook: show its failure
            print(f"    before_enqueue {hook.path}: RAISED {type(exc).__name__}: {exc}")
            return
        print(f"    before_enqueue {hook.path}: {'true' if verdict else 'false (veto)'}")
        if not verdict:
            return


def _json(value: Any) -> str:
    text = json.dumps(value, default=repr, ensure_ascii=False)
    return text if len(text) <= 300 else text[:297] + "..."
