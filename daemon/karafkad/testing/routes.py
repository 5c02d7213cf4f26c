"""Test an application's routes.yaml in its own test suite: no Kafka, no Redis, the daemon's own decisions.

`Routes("config/routes.yaml").feed("orders", {...})` runs the message
through the same compiled RouteTable and Pipeline the daemon uses (decode,
schema, filter, before_enqueue hooks, job building), so what a test sees
cannot drift from what the daemon does. The result lists the jobs that would
be enqueued, with their arguments exactly as an RQ worker would receive them
(after the route's serializer), the dead letters and the skips. A job can be
run inline (`job.run()`): the handler is called in the test's process, with
no timeout and no retries; its exception propagates.

Not covered here, because it needs the real services: writing to Redis,
committing offsets, dedupe on redelivery, sending dead letters
(tests/integration/ covers those).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from karafkad.clients.registry.api import RegistryClient
from karafkad.clients.registry.store import Encoder, SchemaStore
from karafkad.pipeline.outcomes import DeadLetterKind, PartitionBatch, SkipReason
from karafkad.pipeline.records import PlainRecord
from karafkad.pipeline.steps import Pipeline
from karafkad.producer import Headers, encode_json
from karafkad.routes.decoding import decode_json
from karafkad.routes.registry_decoding import schema_ids
from karafkad.routes.table import GroupRoutes, Route, RouteTable, load_routes

_UNSET: Any = object()


@dataclass(frozen=True)
class Message:
    """A message as the broker holds it: value bytes (None for a tombstone), key, headers, timestamp."""

    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    timestamp: int = 0
    """Milliseconds since the epoch."""
    subject: str | None = None
    """Encode the (JSON) value with this Schema Registry subject's schema when fed, into the Confluent wire
    format, as a producer's serializer would."""
    version: int | str = "latest"
    """The subject's schema version to encode with."""
    protobuf_message: str | None = None
    """With a Protobuf schema: the message the value is (default: the schema's first)."""


def message(data: Any = _UNSET, *, raw: bytes | str | None = None, tombstone: bool = False,
            key: str | bytes | None = None, headers: Headers | None = None, timestamp: int = 0,
            subject: str | None = None, version: int | str = "latest", protobuf_message: str | None = None) -> Message:
    """A Message from `data` (encoded as JSON; with `subject`, encoded with that subject's registered schema when
    fed), or `raw` bytes/text (sent as they are), or a tombstone."""
    given = sum((data is not _UNSET, raw is not None, tombstone))
    if given != 1:
        raise TypeError("give exactly one of data (JSON), raw (bytes or text) or tombstone=True")
    if subject is not None and data is _UNSET:
        raise TypeError("subject encodes data: give data, not raw or a tombstone")
    if tombstone:
        value = None
    elif raw is not None:
        value = raw.encode("utf-8") if isinstance(raw, str) else raw
    else:
        value = encode_json(data)
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
    return Message(value, key.encode("utf-8") if isinstance(key, str) else key,
                   tuple((name, v.encode("utf-8") if isinstance(v, str) else v) for name, v in pairs), timestamp,
                   subject, version, protobuf_message)


@dataclass(frozen=True)
class Job:
    """A job the daemon would enqueue, as an RQ worker would receive it."""

    group: str
    route: str
    queue: str
    function: str
    """The dotted path RQ imports (`orders.process_order`)."""
    args: list[Any]
    """The call's arguments after the route's serializer: [params] or [params, meta]; a batch route's are lists."""
    options: dict[str, Any]
    """timeout, result_ttl, failure_ttl, ttl, retry ({max, intervals} or None), at_front, serializer, delay, at."""
    description: str
    job_id: str
    offset: int
    """The message's offset (a batch job's last one)."""
    _route: Route = field(repr=False, compare=False)
    due: int = 0
    """When the job is due (seconds since the epoch, RQ's scheduled-job registry), or 0: enqueued at once."""

    @property
    def params(self) -> Any:
        """The first argument: the decoded message (a list of them for a batch route)."""
        return self.args[0]

    @property
    def meta(self) -> Any:
        """The second argument (message metadata) when the handler takes one, else None."""
        return self.args[1] if len(self.args) > 1 else None

    def run(self) -> Any:
        """Call the handler here and now with the job's arguments; its return value (or its exception)."""
        return self._route.handler.function(*self.args)


@dataclass(frozen=True)
class DeadLetter:
    """A message the daemon would send to a dead-letter topic."""

    group: str
    routes: tuple[str, ...]
    """The routes that rejected it (one dead letter names them all when they agree)."""
    topic: str
    """The dead-letter topic."""
    kind: DeadLetterKind
    reason: str
    offset: int


@dataclass(frozen=True)
class Skip:
    """A message a route deliberately did not enqueue (counted in karafkad_messages_skipped_total)."""

    group: str
    route: str
    reason: SkipReason
    detail: str = ""
    """Why, for error skips (what the daemon logs)."""


@dataclass
class Outcome:
    """Everything the daemon would decide about the messages fed together."""

    jobs: list[Job] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    def job(self, route: str | None = None) -> Job:
        """The one job (of `route`); AssertionError describing the outcome when there is not exactly one."""
        found = [j for j in self.jobs if route is None or j.route == route]
        if len(found) != 1:
            which = f" of route {route!r}" if route else ""
            raise AssertionError(f"expected one job{which}, got {len(found)}; outcome: {self.describe()}")
        return found[0]

    @property
    def decisions(self) -> dict[str, str]:
        """Route name -> what it decided: `enqueue`, `skip <reason>` or `dead_letter <kind>` (joined by `, `
        when several messages were fed)."""
        out: dict[str, list[str]] = defaultdict(list)
        for job in self.jobs:
            out[job.route].append("enqueue")
        for letter in self.dead_letters:
            for name in letter.routes:
                out[name].append(f"dead_letter {letter.kind}")
        for skip in self.skipped:
            out[skip.route].append(f"skip {skip.reason}")
        return {name: ", ".join(items) for name, items in out.items()}

    def run(self) -> list[Any]:
        """Run every job's handler inline, in order; their return values."""
        return [job.run() for job in self.jobs]

    def describe(self) -> str:
        parts = [f"{name}: {what}" for name, what in self.decisions.items()]
        parts += [f"(dead letter reason: {d.reason})" for d in self.dead_letters]
        return "; ".join(parts) or "nothing"


class Routes:
    """A routes file, compiled as the daemon compiles it, that messages can be fed to."""

    def __init__(self, config: str | Path | RouteTable, *, environ: Mapping[str, str] | None = None) -> None:
        """Load and compile `config` (ConfigError lists every problem), or wrap an already compiled table.

        `environ` fills `${VAR}`s (default: the process environment).
        """
        self.table = config if isinstance(config, RouteTable) else load_routes(config, environ)
        self._pipelines = {group.id: Pipeline(group, self.table.config.daemon.max_message_bytes)
                           for group in self.table.groups.values()}
        self._offsets: dict[tuple[str, int], int] = defaultdict(int)
        self._encoders: dict[tuple[str, int | str, str | None], Encoder] = {}
        self._schemas = self.table.schemas

    def topics(self) -> list[str]:
        """Every topic some route consumes."""
        return sorted({t for g in self.table.groups.values() for t in g.by_topic})

    def reset(self) -> None:
        """Start every partition's offsets at 0 again (offsets appear in job ids and meta)."""
        self._offsets.clear()

    def feed(self, topic: str, data: Any = _UNSET, *, raw: bytes | str | None = None, tombstone: bool = False,
             key: str | bytes | None = None, headers: Headers | None = None, partition: int = 0,
             timestamp: int = 0, subject: str | None = None, version: int | str = "latest",
             protobuf_message: str | None = None) -> Outcome:
        """Feed one message (`data` as JSON, or encoded with a Schema Registry `subject`'s schema; `raw` bytes or
        text as they are; or a tombstone) to `topic`. Framed records need the routes file's `schema_registry`:
        RegistryUnavailable when it cannot be asked."""
        return self.feed_batch(topic, [message(data, raw=raw, tombstone=tombstone, key=key, headers=headers,
                                               timestamp=timestamp, subject=subject, version=version,
                                               protobuf_message=protobuf_message)], partition=partition)

    def feed_batch(self, topic: str, messages: Iterable[Message | Any], *, partition: int = 0) -> Outcome:
        """Feed messages as one poll of one partition, or one gathered batch (a batch route makes one job of them, a
        sized one jobs of at most its max_messages).

        Items that are not Message are JSON data (see `message()` for raw values and tombstones).
        """
        groups = [g for g in self.table.groups.values() if topic in g.by_topic]
        if not groups:
            raise LookupError(f"no route consumes topic {topic!r}; topics with routes: {', '.join(self.topics())}")
        records = []
        for item in messages:
            msg = item if isinstance(item, Message) else message(item)
            offset = self._offsets[(topic, partition)]
            self._offsets[(topic, partition)] = offset + 1
            value = self._encoded(msg) if msg.subject is not None else msg.value
            records.append(PlainRecord(topic, partition, offset, value, msg.key, msg.headers, msg.timestamp))
        outcome = Outcome()
        for group in groups:
            if group.schemas is not None and topic in group.registry_topics:
                group.schemas.fetch(schema_ids(records))  # as the daemon does before deciding a batch
            self._collect(outcome, group, self._pipelines[group.id].process(topic, partition, records))
        return outcome

    def encode(self, data: Any, subject: str, version: int | str = "latest",
               protobuf_message: str | None = None) -> bytes:
        """`data` encoded with a Schema Registry subject's schema into the Confluent wire format (each subject's
        encoder made once): LookupError for a subject or version the registry does not have, ValueError for
        data that does not fit, RegistryUnavailable when the registry cannot be asked."""
        key = (subject, version, protobuf_message)
        encoder = self._encoders.get(key)
        if encoder is None:
            asked: Any = version
            encoder = self._encoders[key] = self._store().encoder(subject, asked, message=protobuf_message)
        return encoder(data)

    def _encoded(self, msg: Message) -> bytes:
        assert msg.subject is not None and msg.value is not None  # message() makes sure
        return self.encode(decode_json(msg.value), msg.subject, msg.version, msg.protobuf_message)

    def _store(self) -> SchemaStore:
        if self._schemas is None:
            settings = self.table.config.schema_registry
            if settings is None:
                raise LookupError("a message to encode with a subject's schema needs the routes file's "
                                  "schema_registry section")
            self._schemas = SchemaStore(RegistryClient(settings))
        return self._schemas

    def _collect(self, outcome: Outcome, group: GroupRoutes, batch: PartitionBatch) -> None:
        routes = {r.name: r for r in group.routes}
        for pending in batch.jobs:
            route = routes[pending.route]
            outcome.jobs.append(Job(group.id, route.name, pending.template.queue, pending.template.func_name,
                                    pending.args, job_options(route), pending.description,
                                    pending.job_id, pending.offset, route, pending.at))
        for letter in batch.dead_letters:
            outcome.dead_letters.append(DeadLetter(group.id, tuple(letter.route_names), letter.topic, letter.kind,
                                                   letter.reason, letter.record.offset))
        notes: dict[str, list[str]] = defaultdict(list)
        for route_name, _offset, note in batch.skip_notes:
            notes[route_name].append(note)
        for (route_name, reason), count in batch.skipped.items():
            for _ in range(count):
                detail = notes[route_name].pop(0) if reason.startswith("error:") and notes[route_name] else ""
                outcome.skipped.append(Skip(group.id, route_name, reason, detail))


def job_options(route: Route) -> dict[str, Any]:
    """A route's RQ job options as plain data."""
    options = route.spec.job
    retry = ({"max": options.retry_max, "intervals": list(options.retry_intervals)} if options.retry_max else None)
    return {"timeout": options.timeout, "result_ttl": options.result_ttl, "failure_ttl": options.failure_ttl,
            "ttl": options.ttl, "retry": retry, "at_front": options.at_front, "serializer": options.serializer,
            "delay": options.delay, "at": options.at}


