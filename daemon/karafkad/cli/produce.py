"""`karafkad produce`: send each line of a file (or stdin) to a topic as one message.

Started inside a trace (TRACEPARENT, and TRACESTATE and BAGGAGE, in its environment: OpenTelemetry's
environment carriers), it sends that context in each message's headers, unless --header gives a traceparent.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from karafkad import defaults
from karafkad.cli.output import Progress, print_problems, progress_bar, size
from karafkad.errors import ConfigError, RegistryUnavailable
from karafkad.producer import Headers, ProduceError, Producer
from karafkad.routes.decoding import decode_json
from karafkad.text import plural
from karafkad.tracing.context import TRACEPARENT, from_environment

FLUSH_EVERY = 1000
"""`karafkad produce` waits for the acknowledgements every this many lines (bounds memory; reports failures)."""

SHOWN_FAILURES = 20
"""Lines `karafkad produce` lists one by one when they fail; the rest are counted."""


def run(args: argparse.Namespace, default_config: Path) -> int:
    headers = []
    for item in args.header:
        name, equals, value = item.partition("=")
        if not equals or not name:
            print(f"karafkad produce: --header {item!r} is not NAME=VALUE", file=sys.stderr)
            return defaults.EXIT_CONFIG
        headers.append((name, value))
    headers = with_caller_context(headers, os.environ)
    if args.timeout <= 0:
        print("karafkad produce: --timeout must be positive", file=sys.stderr)
        return defaults.EXIT_CONFIG
    if args.subject is None and (args.register or args.protobuf_message or args.schema_version != "latest"):
        print("karafkad produce: --register, --message and --schema-version go with --subject", file=sys.stderr)
        return defaults.EXIT_CONFIG
    registry: dict[str, Any] = {"schema_registry": {"url": args.registry}} if args.registry else {}
    try:
        if args.bootstrap_servers:
            producer = Producer(bootstrap_servers=args.bootstrap_servers, client_id="karafkad-produce",
                                timeout=args.timeout, compression_type=args.compression, **registry)
        else:
            producer = Producer.from_config(args.config or default_config, timeout=args.timeout,
                                            compression_type=args.compression, **registry)
    except ConfigError as exc:
        print_problems(exc)
        return defaults.EXIT_CONFIG
    except ValueError as exc:
        print(f"karafkad produce: {exc}", file=sys.stderr)
        return defaults.EXIT_CONFIG
    encode = None
    if args.subject is not None:
        made = _encoder(producer, args)
        if isinstance(made, int):
            producer.close()
            return made
        encode = made
    try:
        source = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        print(f"karafkad produce: {args.file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return defaults.EXIT_CONFIG
    try:
        progress = progress_bar(os.fstat(source.fileno()).st_size) if args.file != "-" else None
        return produce_lines(producer, args.topic, source, key=args.key, headers=headers,
                             partition=args.partition, validate_json=args.json, progress=progress, encode=encode)
    finally:
        if source is not sys.stdin.buffer:
            source.close()
        producer.close()


def _encoder(producer: Producer, args: argparse.Namespace) -> Callable[[bytes], bytes] | int:
    """`--subject`: a line's JSON encoded with the subject's registered schema; or an exit status."""
    version: Any = args.schema_version
    try:
        encoder = producer.encoder(args.subject, int(version) if version != "latest" else version,
                                   message=args.protobuf_message, register=args.register)
    except RegistryUnavailable as exc:
        print(f"karafkad produce: {exc}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    except (LookupError, ValueError) as exc:
        print(f"karafkad produce: cannot encode with {args.subject!r}: {exc}", file=sys.stderr)
        return defaults.EXIT_CONFIG

    def encode(line: bytes) -> bytes:
        return encoder(decode_json(line))

    return encode


def with_caller_context(headers: list[tuple[str, str]], environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """`headers`, then the trace context the command was started in, unless they give a traceparent themselves."""
    context = from_environment(environ)
    if context is None or any(name == TRACEPARENT for name, _ in headers):
        return headers
    return [*headers, *context.carrier().items()]


def produce_lines(producer: Producer, topic: str, source: Iterable[bytes], *, key: str | None = None,
                  headers: Headers | None = None, partition: int | None = None, validate_json: bool = False,
                  progress: Progress | None = None, out: Any = None, err: Any = None,
                  encode: Callable[[bytes], bytes] | None = None) -> int:
    """Send each non-blank line of the binary stream `source` as one message; print failures and a summary.

    A line is sent as its bytes, without the line ending (JSON lines stay the
    text they are), or as `encode` makes it (a record framed for the Schema
    Registry; a line it refuses is listed, not sent). Returns the exit status: 0 when every line was delivered,
    EXIT_CONFIG (1) when some were not, EXIT_RUNTIME (3) when Kafka or the
    topic could not be reached at all (then nothing is read).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    started = time.monotonic()
    try:
        producer.partitions_for(topic)
    except ProduceError as exc:
        print(f"karafkad: cannot produce to {topic!r}: {exc}", file=err)
        return defaults.EXIT_RUNTIME
    failures: list[tuple[Any, str]] = []
    counts = {"sent": 0, "failed": 0, "buffered": 0}

    def note(exc: ProduceError) -> None:
        failures.extend((failure.label, failure.error) for failure in exc.failures)
        if exc.count > len(exc.failures):
            failures.append((None, str(exc)))
        counts["failed"] += exc.count

    def flush() -> None:
        before = counts["failed"]
        try:
            producer.flush()
        except ProduceError as exc:
            note(exc)
        counts["sent"] += counts["buffered"] - (counts["failed"] - before)
        counts["buffered"] = 0

    blank = done = lineno = 0
    for lineno, raw in enumerate(source, 1):
        done += len(raw)
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            blank += 1
            continue
        if validate_json or encode is not None:
            try:
                if encode is not None:
                    line = encode(line)
                else:
                    decode_json(line)
            except ValueError as exc:  # DecodeError (not JSON) too; ValueError: does not fit the schema
                failures.append((lineno, str(exc)))
                counts["failed"] += 1
                continue
        try:
            producer.buffer(topic, line, key=key, headers=headers, partition=partition, label=lineno)
            counts["buffered"] += 1
        except ProduceError as exc:
            note(exc)
        if counts["buffered"] >= FLUSH_EVERY:
            flush()
        if progress is not None:
            progress.update(done, f"{plural(lineno, 'line')}  {size(done)}/{size(progress.total)}")
    flush()
    if progress is not None:
        progress.finish(done, f"{plural(lineno, 'line')}  {size(done)}/{size(progress.total)}")
    sent, failed = counts["sent"], counts["failed"]
    skipped = f", {plural(blank, 'blank line')} skipped" if blank else ""
    summary = f"{plural(sent, 'message')} sent to {topic!r} in {time.monotonic() - started:.1f} s{skipped}"
    if not failed:
        print(summary, file=out)
        return defaults.EXIT_OK
    for label, error in sorted(failures, key=lambda f: (f[0] is None, f[0] or 0))[:SHOWN_FAILURES]:
        print(f"line {label}: {error}" if label is not None else error, file=err)
    if len(failures) > SHOWN_FAILURES:
        print(f"... and {len(failures) - SHOWN_FAILURES} more", file=err)
    print(f"{summary}; {plural(failed, 'line')} NOT sent", file=out)
    return defaults.EXIT_CONFIG
