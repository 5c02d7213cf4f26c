"""`check`, `routes` and `explain`: look at a routes file without Kafka or Redis."""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from karafkad import defaults
from karafkad.cli.output import print_problems
from karafkad.config.loading import load_config
from karafkad.config.settings import RouteSpec
from karafkad.errors import ConfigError
from karafkad.text import clip, columns, plural

if TYPE_CHECKING:
    from karafkad.routes.table import RouteTable


def load_table(config: Path) -> RouteTable | None:
    """The compiled routes of `config`, or None after printing its problems."""
    try:
        settings = load_config(config)
        # Deferred until the file itself checks: compiling routes brings in RQ and Redis (a sixth of a
        # second), which a file with a typo never needs (the broken-routes corpus test times it).
        from karafkad.routes.table import build_route_table

        return build_route_table(settings)
    except ConfigError as exc:
        print_problems(exc)
        return None


def check(config: Path, *, quiet: bool = False) -> int:
    """`karafkad check`: 0 when the file compiles and its route tests pass, else 1 with every problem."""
    table = load_table(config)
    if table is None:
        return defaults.EXIT_CONFIG
    if not quiet:
        for warning in table.config.warnings:
            print(f"{warning} (warning)")
    # Deferred like the routes above: the route-tests runner is needed only when the file checks.
    from karafkad.cli.route_tests import check_route_tests

    if not check_route_tests(config, table, quiet=quiet):
        return defaults.EXIT_CONFIG
    if not quiet:
        for line in registry_warnings(table):
            print(f"{line} (warning)")
        print(f"{config}: OK: {plural(len(table.groups), 'group')}, {plural(len(table.routes), 'route')}, "
              f"{plural(len(table.queues()), 'queue')}")
        _print_codecs()
    return defaults.EXIT_OK


def registry_warnings(table: RouteTable) -> list[str]:
    """What `check` says about the schema registry of a file with registry routes: that it cannot be reached
    (the daemon would pause those routes until it answers), or which declared subjects it does not have."""
    settings = table.config.schema_registry
    if settings is None or table.schemas is None:
        return []
    import dataclasses

    from karafkad.clients.registry.api import RegistryClient
    from karafkad.errors import RegistryUnavailable

    client = RegistryClient(dataclasses.replace(settings, timeout=min(settings.timeout,
                                                                     defaults.REGISTRY_CHECK_TIMEOUT)))
    where = f"{table.config.file}: schema_registry"
    try:
        client.types()
        subjects = set(client.subjects()) if any(r.spec.subjects for r in table.routes) else set()
    except RegistryUnavailable as exc:
        return [f"{where}: cannot be reached ({exc}); the daemon pauses the routes that decode "
                f"{'/'.join(sorted({r.spec.decode for r in table.routes if r.spec.registry}))} until it answers"]
    return [f"{where}: route {route.name!r} expects subject {subject!r}, which the registry does not have (yet)"
            for route in table.routes for subject in route.spec.subjects if subject not in subjects]


def _print_codecs() -> None:
    # Deferred like the route tests: the codec check imports kafka-python (a tenth of a second).
    from karafkad.clients.kafka import codecs

    readable = [name for name, ok in codecs.available().items() if ok]
    line = f"compression codecs this installation reads: {', '.join(readable)}"
    missing = codecs.missing()
    print(line + (f"; NOT {', '.join(missing)}: batches in those codecs would hold their partitions"
                  if missing else ""))


def routes_table(config: Path) -> int:
    """`karafkad routes`: one line per route."""
    table = load_table(config)
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
                         clip(spec.filter or "-", 40), str(schema), spec.dead_letter or f"- ({spec.on_error})",
                         f"{_mode(spec)}/{spec.decode}"))
    for line in columns([headers, *rows]):
        print(line)
    return defaults.EXIT_OK


def _mode(spec: RouteSpec) -> str:
    """How a route makes jobs: `each` message, a `batch` per poll, or sized batches `batch(500,1s)`."""
    if spec.batch is None:
        return "each"
    size = spec.batch.size
    return "batch" if size is None else f"batch({size.max_messages},{size.max_wait:g}s)"


def explain(args: argparse.Namespace) -> int:
    """`karafkad explain`: the steps the pipeline takes for one message, route by route, and the outcome."""
    table = load_table(args.config)
    if table is None:
        return defaults.EXIT_CONFIG
    value = _value(args)
    if isinstance(value, int):
        return value
    if getattr(args, "subject", None) is not None:
        value = _encoded(table, args, value)
        if isinstance(value, int):
            return value
    headers = []
    for item in args.header:
        name, _, text = item.partition("=")
        headers.append((name, text.encode()))
    # Deferred like the routes themselves (see load_table).
    from karafkad.pipeline.explaining import explain as explain_record
    from karafkad.pipeline.records import PlainRecord
    from karafkad.pipeline.trace import show

    record = PlainRecord(args.topic, args.partition, args.offset, value,
                         args.key.encode() if args.key is not None else None, tuple(headers))
    from karafkad.errors import RegistryUnavailable

    try:
        groups = explain_record(table, record)
    except RegistryUnavailable as exc:
        print(f"karafkad explain: cannot decode: {exc}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    if not groups:
        print(f"no route consumes topic {args.topic!r}; topics with routes: "
              f"{', '.join(sorted({t for g in table.groups.values() for t in g.by_topic}))}")
        return defaults.EXIT_CONFIG
    for group in groups:
        print(f"group {group.group.id}")
        for route in group.routes:
            print(f"  route {route.route.name} -> {route.route.spec.handler}")
            for step in route.steps:
                print(f"    {step.label}: {step.result}")
        for route in group.routes:
            for job in route.jobs:
                print(f"  => ENQUEUE {job.job_id} on queue {job.template.queue!r}: "
                      f"{job.template.func_name}(*{show(job.args)})")
                options = {k: v for k, v in vars(route.route.spec.job).items() if v}
                print(f"     route {job.route}; job options {json.dumps(options, default=repr)}")
        letters = [r.dead_letter for r in group.routes if r.dead_letter is not None]
        for index, letter in enumerate(letters):
            if any(earlier is letter for earlier in letters[:index]):
                continue  # one dead letter naming several routes: printed once
            print(f"  => DEAD LETTER to {letter.topic!r} (route {', '.join(letter.route_names)}): "
                  f"{letter.kind}: {letter.reason}")
        for route in group.routes:
            for reason in route.skipped:
                print(f"  => SKIP (route {route.route.name}): {reason}")
    return defaults.EXIT_OK


def _value(args: argparse.Namespace) -> bytes | int | None:
    """The message value the arguments give, or an exit status when it cannot be read."""
    if args.tombstone:
        return None
    as_hex: str | None = getattr(args, "hex", None)
    as_base64: str | None = getattr(args, "base64", None)
    if as_hex is not None or as_base64 is not None:
        try:
            return bytes.fromhex(as_hex) if as_hex is not None else base64.b64decode(as_base64 or "", validate=True)
        except ValueError as exc:
            print(f"karafkad explain: not {'hex' if as_hex is not None else 'base64'}: {exc}", file=sys.stderr)
            return defaults.EXIT_CONFIG
    if args.value is not None:
        encoded: bytes = args.value.encode()
        return encoded
    if str(args.file) == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(args.file).read_bytes()
    except OSError as exc:
        print(f"{args.file}: cannot read the message: {exc.strerror or exc}", file=sys.stderr)
        return defaults.EXIT_CONFIG


def _encoded(table: RouteTable, args: argparse.Namespace, value: bytes | None) -> bytes | int:
    """`explain --subject`: the JSON value encoded with the subject's registered schema, or an exit status."""
    from karafkad.errors import RegistryUnavailable
    from karafkad.routes.decoding import decode_json
    from karafkad.testing.routes import Routes

    if value is None or args.value is None:
        print("karafkad explain: --subject encodes a --value (JSON)", file=sys.stderr)
        return defaults.EXIT_CONFIG
    version = args.schema_version
    try:
        data = decode_json(value)
        # Routes encodes as the route tests do (and shares the table's fetched schemas).
        return Routes(table).encode(data, args.subject, int(version) if version != "latest" else version,
                                    args.protobuf_message)
    except RegistryUnavailable as exc:
        print(f"karafkad explain: cannot encode: {exc}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    except (LookupError, ValueError) as exc:  # no such subject or version; data that does not fit; bad JSON
        print(f"karafkad explain: cannot encode the value with {args.subject!r}: {exc}", file=sys.stderr)
        return defaults.EXIT_CONFIG
