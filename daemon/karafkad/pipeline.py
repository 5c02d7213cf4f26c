"""Decide what each polled message becomes: a job, a deliberate skip, or a dead letter.

For every message and every route of its topic: tombstone policy -> size cap
-> decode -> JSON Schema -> filter -> before_enqueue hooks -> job. The result
is a value (a PartitionBatch listing jobs, dead letters and counted skips),
never an exception: a bad message is an outcome, not an error. Nothing here
talks to Kafka or Redis.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from karafkad.decoding import DecodeError, text_or_none
from karafkad.expressions import FilterRuntimeError
from karafkad.kafkacompat import bad_header_key
from karafkad.routing import GroupRoutes, Route
from karafkad.rqjobs import JobTemplate


class Record(Protocol):
    """The fields of a kafka-python ConsumerRecord that the pipeline reads."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes | None]]: ...


@dataclass(slots=True)
class PendingJob:
    """A job to write: its id, the route's template, and the call's arguments."""

    job_id: str
    template: JobTemplate
    args: list[Any]
    description: str
    offset: int
    route: str
    data: bytes = b""
    """The encoded call (see JobTemplate.encode), computed here so a failure is this message's outcome."""


@dataclass(slots=True)
class DeadLetter:
    """A message a route rejected, and why.

    When several routes of a topic reject one message for the same reason
    into the same dead-letter topic, it is sent once, naming every route.
    """

    route: Route
    record: Record
    kind: str
    """decode | oversize | schema | filter | hook | tombstone | headers | serialize"""
    reason: str
    also: list[str] = field(default_factory=list)
    """Names of further routes that rejected the message the same way."""

    @property
    def topic(self) -> str:
        return self.route.spec.dead_letter or ""

    @property
    def route_names(self) -> list[str]:
        return [self.route.spec.name, *self.also]


@dataclass(slots=True)
class PartitionBatch:
    """Everything decided about one partition's share of a poll."""

    topic: str
    partition: int
    last_offset: int = -1
    jobs: list[PendingJob] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(route name, reason) -> messages deliberately not enqueued."""
    skip_notes: list[tuple[str, int, str]] = field(default_factory=list)
    """(route, offset, reason) of skips caused by bad input, to be logged."""
    consumed: int = 0
    redelivered: int = 0
    dead_letters_sent: bool = False


def message_meta(group: str, route: str, record: Record) -> dict[str, Any]:
    """What a handler or hook learns about the message besides its params."""
    return {
        "group": group,
        "route": route,
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": text_or_none(record.key),
        "headers": {k: text_or_none(v) for k, v in record.headers},
    }


class Pipeline:
    """Applies one group's routes to polled records."""

    def __init__(self, routes: GroupRoutes, max_message_bytes: int) -> None:
        self.routes = routes
        self.group = routes.id
        self.max_message_bytes = max_message_bytes

    def process(self, topic: str, partition: int, records: Sequence[Record], known_mark: int = -1) -> PartitionBatch:
        """Outcomes for `records` (one partition, in offset order).

        Records at or below `known_mark` were already handled before a crash or
        rebalance (see enqueuer.py) and are only counted.
        """
        batch = PartitionBatch(topic, partition)
        routes = self.routes.by_topic.get(topic, ())
        collected: dict[Route, list[tuple[Any, dict[str, Any] | None, int]]] = {}
        for record in records:
            offset = record.offset
            batch.last_offset = offset
            if offset <= known_mark:
                batch.redelivered += 1
                continue
            batch.consumed += 1
            value = record.value
            if record.headers:
                bad_key = bad_header_key(record.headers)
                if bad_key is not None:
                    for route in routes:
                        self._reject(batch, route, record, "headers", f"header key is not UTF-8: {bad_key}")
                    continue
            decoded: dict[Any, tuple[bool, Any]] = {}
            key_text: Any = ...
            headers: Any = ...
            for route in routes:
                spec = route.spec
                if value is None:
                    if spec.tombstone == "skip":
                        batch.skipped[(spec.name, "tombstone")] += 1
                        continue
                    if spec.tombstone == "dead_letter":
                        self._dead_letter(batch, route, record, "tombstone", "tombstone (null value)")
                        continue
                    params = None
                elif len(value) > self.max_message_bytes:
                    self._reject(batch, route, record, "oversize",
                                 f"value is {len(value)} bytes; the limit is {self.max_message_bytes}")
                    continue
                else:
                    result = decoded.get(route.decode)
                    if result is None:
                        try:
                            result = (True, route.decode(value))
                        except DecodeError as exc:
                            result = (False, str(exc))
                        decoded[route.decode] = result
                    if not result[0]:
                        self._reject(batch, route, record, "decode", result[1])
                        continue
                    params = result[1]
                if route.validate is not None:
                    problem = route.validate(params)
                    if problem is not None:
                        self._reject(batch, route, record, "schema", problem)
                        continue
                if route.filter is not None:
                    if key_text is ...:
                        key_text = text_or_none(record.key)
                        headers = {k: text_or_none(v) for k, v in record.headers}
                    try:
                        passed = route.filter(params, key_text, headers, topic, partition, offset, record.timestamp)
                    except FilterRuntimeError as exc:
                        self._reject(batch, route, record, "filter", f"filter failed: {exc}")
                        continue
                    if not passed:
                        batch.skipped[(spec.name, "filtered")] += 1
                        continue
                meta = message_meta(self.group, spec.name, record) if route.needs_meta else None
                if route.hooks and not self._hooks_pass(batch, route, record, params, meta):
                    continue
                if spec.batch:
                    collected.setdefault(route, []).append((params, meta, offset))
                    continue
                args: list[Any] = [params, meta] if route.pass_meta else [params]
                try:
                    data = route.template.encode(args)
                except (TypeError, ValueError, OverflowError, RecursionError) as exc:
                    self._reject(batch, route, record, "serialize", f"cannot serialize the job: {exc}")
                    continue
                batch.jobs.append(PendingJob(
                    f"{route.id_prefixes[topic]}-{partition}-{offset}",
                    route.template,
                    args,
                    self._description(route, topic, partition, offset, record),
                    offset,
                    spec.name,
                    data,
                ))
        for route, items in collected.items():
            job = self._batch_job(batch, route, topic, partition, items, records)
            if job is not None:
                batch.jobs.append(job)
        return batch

    def _batch_job(self, batch: PartitionBatch, route: Route, topic: str, partition: int,
                   items: list[tuple[Any, Any, int]], records: Sequence[Record]) -> PendingJob | None:
        """One job carrying the params (and metas) of a partition's batch."""
        try:
            data, args = self._encode_batch(route, items)
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            # A message of the batch cannot be serialized: reject it alone, keep the rest.
            items = self._serializable(batch, route, items, str(exc), records)
            if not items:
                return None
            data, args = self._encode_batch(route, items)
        first, last = items[0][2], items[-1][2]
        return PendingJob(
            f"{route.id_prefixes[topic]}-{partition}-{first}-{last}",
            route.template,
            args,
            f"{route.spec.handler} <- {topic}[{partition}]@{first}..{last} ({len(items)} messages)",
            last,
            route.spec.name,
            data,
        )

    @staticmethod
    def _encode_batch(route: Route, items: list[tuple[Any, Any, int]]) -> tuple[bytes, list[Any]]:
        args: list[Any] = [[params for params, _, _ in items]]
        if route.pass_meta:
            args.append([meta for _, meta, _ in items])
        return route.template.encode(args), args

    def _serializable(self, batch: PartitionBatch, route: Route, items: list[tuple[Any, Any, int]], reason: str,
                      records: Sequence[Record]) -> list[tuple[Any, Any, int]]:
        by_offset = {r.offset: r for r in records}
        kept = []
        for params, meta, offset in items:
            try:
                route.template.encode([[params]] + ([[meta]] if route.pass_meta else []))
            except (TypeError, ValueError, OverflowError, RecursionError):
                self._reject(batch, route, by_offset[offset], "serialize", f"cannot serialize the job: {reason}")
                continue
            kept.append((params, meta, offset))
        return kept

    def _hooks_pass(self, batch: PartitionBatch, route: Route, record: Record, params: Any,
                    meta: dict[str, Any] | None) -> bool:
        for hook, takes_meta in route.hooks:
            try:
                verdict = hook.function(params, meta) if takes_meta else hook.function(params)
            except Exception as exc:  # the hook is the operator's code: its failure is this message's outcome
                self._reject(batch, route, record, "hook", f"before_enqueue {hook.path} raised "
                                                           f"{type(exc).__name__}: {exc}")
                return False
            if not verdict:
                batch.skipped[(route.spec.name, "vetoed")] += 1
                return False
        return True

    @staticmethod
    def _dead_letter(batch: PartitionBatch, route: Route, record: Record, kind: str, reason: str) -> None:
        if batch.dead_letters:
            last = batch.dead_letters[-1]
            if last.record is record and last.kind == kind and last.reason == reason \
                    and last.topic == route.spec.dead_letter:
                last.also.append(route.spec.name)
                return
        batch.dead_letters.append(DeadLetter(route, record, kind, reason))

    def _reject(self, batch: PartitionBatch, route: Route, record: Record, kind: str, reason: str) -> None:
        if route.spec.on_error == "dead_letter":
            self._dead_letter(batch, route, record, kind, reason)
        else:
            batch.skipped[(route.spec.name, f"error:{kind}")] += 1
            batch.skip_notes.append((route.spec.name, record.offset, f"{kind}: {reason}"))

    @staticmethod
    def _description(route: Route, topic: str, partition: int, offset: int, record: Record) -> str:
        template = route.spec.job.description
        if template is None:
            return f"{route.spec.handler} <- {topic}[{partition}]@{offset}"
        return template.format(topic=topic, partition=partition, offset=offset, key=text_or_none(record.key))
