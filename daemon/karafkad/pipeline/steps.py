"""Decide what each polled message becomes: a job, a deliberate skip, or a dead letter.

For every message and every route of its topic: header keys -> tombstone
policy -> size cap -> decode -> JSON Schema -> filter -> before_enqueue
hooks -> job. The result is a value (a PartitionBatch listing jobs, dead
letters and counted skips), never an exception: a bad message is an
outcome, not an error. Nothing here talks to Kafka or Redis. Given a
`trace` list, `process` also records each step it takes (`karafkad
explain` prints it), at the cost of one `is not None` test per step
otherwise.

A message whose headers carry a W3C trace context hands it on to its jobs
(their meta, tracing/context.py). With a tracer (tracing on), a message
whose context is sampled also gets a span per route, made once it is
decided (pipeline/watching.py), and its jobs continue from those spans.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from karafkad.clients.kafka.types import Record
from karafkad.errors import DecodeError, FilterRuntimeError
from karafkad.pipeline.outcomes import ERROR_SKIPS, DeadLetter, DeadLetterKind, JobNaming, PartitionBatch, PendingJob
from karafkad.pipeline.records import bad_header_key
from karafkad.pipeline.schedule import NotATime, due_at
from karafkad.pipeline.trace import Trace, TraceStep, show
from karafkad.pipeline.watching import Gathered, Watched
from karafkad.routes.decoding import text_or_none
from karafkad.routes.table import GroupRoutes, Route
from karafkad.text import clip, plural
from karafkad.tracing.context import from_headers
from karafkad.tracing.messages import MessageTracer


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

    def __init__(self, routes: GroupRoutes, max_message_bytes: int, clock: Callable[[], float] = time.time,
                 tracer: MessageTracer | None = None) -> None:
        self.routes = routes
        self.group = routes.id
        self.max_message_bytes = max_message_bytes
        self.clock = clock
        """Wall-clock seconds: the age of a message (max_age) and a job's due time (job.delay) count from it."""
        self.tracer = tracer
        """Makes the spans of messages whose trace context is sampled (None: tracing is off)."""

    def process(self, topic: str, partition: int, records: Sequence[Record], known_mark: int = -1,
                trace: Trace | None = None, *, only: Sequence[Route] | None = None,
                id_suffix: str = "") -> PartitionBatch:
        """Outcomes for `records` (one partition, in offset order).

        Records at or below `known_mark` were already handled before a crash or
        rebalance (see store/enqueuer.py) and are only counted. With `trace`,
        every step taken is appended to it. `only` runs these routes of the
        topic instead of all (a replay limited to some routes, a re-driven dead
        letter), and `id_suffix` ends every job id (`-r3`: replay 3), so such
        jobs never share an id with the first run's.
        """
        batch = PartitionBatch(topic, partition)
        routes = self.routes.by_topic.get(topic, ()) if only is None else only
        now = self.clock()
        # Per batch, not per message: each route's job naming, and the loop's constants in locals.
        plan = [(route, route.spec, self._naming(route, topic, partition, id_suffix)) for route in routes]
        max_bytes = self.max_message_bytes
        jobs = batch.jobs
        collected: dict[Route, list[tuple[Any, dict[str, Any] | None, int]]] = {}
        consumed = 0
        tracer = self.tracer
        watched: Watched | None = None
        for record in records:
            if watched is not None:
                self._traced(watched, batch, routes, collected)
                watched = None
            offset = record.offset
            if offset <= known_mark:
                batch.redelivered += 1
                continue
            consumed += 1
            value = record.value
            context = None
            if record.headers:
                context = from_headers(record.headers)
                if context is not None and tracer is not None and context.sampled:
                    watched = Watched.before(record, context, time.time_ns(), batch, collected)
                bad_key = bad_header_key(record.headers)
                if bad_key is not None:
                    for route, _, _ in plan:
                        if trace is not None:
                            trace.append(TraceStep(route.name, "headers", f"INVALID: key {bad_key} is not UTF-8"))
                        self._reject(batch, route, record, "headers", f"header key is not UTF-8: {bad_key}")
                    continue
            # One decode per decoder, shared by the message's routes (usually all of them use one).
            decoder: Any = None
            decoded: Any = None
            failure: str | None = None
            key_text: Any = ...
            headers: Any = ...
            for route, spec, naming in plan:
                if spec.max_age is not None and record.timestamp > 0 and \
                        now * 1000 - record.timestamp > spec.max_age * 1000:
                    if trace is not None:
                        trace.append(TraceStep(spec.name, "age", f"{int(now - record.timestamp / 1000)} s, over "
                                                                 f"max_age ({spec.max_age} s): expired"))
                    batch.skipped[(spec.name, "expired")] += 1
                    continue
                if value is None:
                    if trace is not None:
                        trace.append(TraceStep(spec.name, "value", f"null (tombstone: {spec.tombstone})"))
                    if spec.tombstone == "skip":
                        batch.skipped[(spec.name, "tombstone")] += 1
                        continue
                    if spec.tombstone == "dead_letter":
                        self._dead_letter(batch, route, record, "tombstone", "tombstone (null value)")
                        continue
                    params = None
                elif len(value) > max_bytes:
                    if trace is not None:
                        trace.append(TraceStep(spec.name, "value", f"{len(value)} bytes, over the "
                                                                   f"{max_bytes}-byte limit"))
                    self._reject(batch, route, record, "oversize",
                                 f"value is {len(value)} bytes; the limit is {max_bytes}")
                    continue
                else:
                    if route.decode is not decoder:
                        decoder = route.decode
                        try:
                            decoded, failure = decoder(value), None
                        except DecodeError as exc:
                            decoded, failure = None, str(exc)
                    if trace is not None:
                        trace.append(TraceStep(spec.name, f"decode ({spec.decode})",
                                               show(decoded) if failure is None else f"FAILED: {failure}"))
                    if failure is not None:
                        self._reject(batch, route, record, "decode", failure)
                        continue
                    params = decoded
                if route.validate is not None:
                    problem = route.validate(params)
                    if trace is not None:
                        trace.append(TraceStep(spec.name, "schema", "valid" if problem is None else
                                               f"INVALID: {problem}"))
                    if problem is not None:
                        self._reject(batch, route, record, "schema", problem)
                        continue
                if route.filter is not None:
                    # The key's text and the headers as a mapping only for a filter that reads them.
                    reads = route.filter_reads
                    if key_text is ... and "key" in reads:
                        key_text = text_or_none(record.key)
                    if headers is ... and "headers" in reads:
                        headers = {k: text_or_none(v) for k, v in record.headers}
                    try:
                        passed = route.filter(params, None if key_text is ... else key_text,
                                              None if headers is ... else headers, topic, partition, offset,
                                              record.timestamp)
                    except FilterRuntimeError as exc:
                        if trace is not None:
                            trace.append(TraceStep(spec.name, f"filter {clip(spec.filter or '', 60)!r}",
                                                   f"FAILED: {exc}"))
                        self._reject(batch, route, record, "filter", f"filter failed: {exc}")
                        continue
                    if trace is not None:
                        trace.append(TraceStep(spec.name, f"filter {clip(spec.filter or '', 60)!r}",
                                               "true" if passed else "false"))
                    if not passed:
                        batch.skipped[(spec.name, "filtered")] += 1
                        continue
                meta = message_meta(self.group, spec.name, record) if route.needs_meta else None
                if route.hooks and not self._hooks_pass(batch, route, record, params, meta, trace):
                    continue
                if spec.batch:
                    collected.setdefault(route, []).append((params, meta, offset))
                    continue
                at = 0
                if route.timed:
                    try:
                        at = due_at(spec.job, params, now)
                    except NotATime as exc:
                        self._reject(batch, route, record, "schedule", str(exc))
                        continue
                    if at and trace is not None:
                        trace.append(TraceStep(spec.name, "due", f"at {at} (seconds since the epoch): "
                                                                 "RQ's scheduled-job registry until then"))
                try:
                    if route.params_as_text and value is not None:
                        data = route.template.encode_json_text(value, meta)
                    else:
                        data = route.template.encode([params, meta] if route.pass_meta else [params])
                except (TypeError, ValueError, OverflowError, RecursionError) as exc:
                    self._reject(batch, route, record, "serialize", f"cannot serialize the job: {exc}")
                    continue
                if naming.own_descriptions:
                    jobs.append(PendingJob(naming, offset, data, at, None,
                                           self._description(spec.job.description, topic, partition, offset,
                                                             record)))
                else:
                    jobs.append(PendingJob(naming, offset, data, at))
                if naming.ordering == "key":
                    key = record.key
                    jobs[-1].link = b"p" if key is None else b"k:" + key
                if context is not None:
                    jobs[-1].meta = naming.template.meta_field(context)
        if watched is not None:
            self._traced(watched, batch, routes, collected)
        if records:
            batch.last_offset = records[-1].offset
        batch.consumed = consumed
        for route, items in collected.items():
            naming = next(naming for planned, _, naming in plan if planned is route)
            size = route.spec.batch.size if route.spec.batch is not None else None
            most = len(items) if size is None else size.max_messages
            for start in range(0, len(items), most):
                job = self._batch_job(batch, route, naming, items[start:start + most], records)
                if job is not None:
                    job.at = due_at(route.spec.job, None, now)  # a batch route takes `delay` only (checks.py)
                    jobs.append(job)
        return batch

    def _traced(self, watched: Watched, batch: PartitionBatch, routes: Sequence[Route], gathered: Gathered) -> None:
        """A decided sampled message's spans, one per route; its jobs continue the trace from their route's."""
        assert self.tracer is not None  # only messages watched with a tracer get here
        outcomes = watched.outcomes(batch, routes, gathered)
        contexts = self.tracer.spans(watched.record, self.group, watched.context, watched.started_ns,
                                     [outcome for outcome, _ in outcomes])
        for context, (_, jobs) in zip(contexts, outcomes, strict=True):
            if context is not None:
                for job in jobs:
                    job.meta = job.template.meta_field(context)

    def _naming(self, route: Route, topic: str, partition: int, id_suffix: str) -> JobNaming:
        """How the route's jobs from this partition are named: `PREFIX-PARTITION-OFFSET[SUFFIX]`, described as
        `HANDLER <- TOPIC[PARTITION]@OFFSET` unless the route says otherwise."""
        spec = route.spec
        prefix = route.id_prefixes[topic]
        return JobNaming(spec.name, route.template, f"{prefix}-{partition}-", id_suffix,
                         f"{spec.handler} <- {topic}[{partition}]@", own_descriptions=spec.job.description is not None,
                         timed=route.timed, ordering="" if spec.ordering == "none" else spec.ordering,
                         chain=f"{prefix}:{partition}" if spec.ordered else "",
                         allow_failure=spec.on_failure == "skip")

    def _batch_job(self, batch: PartitionBatch, route: Route, naming: JobNaming,
                   items: list[tuple[Any, Any, int]], records: Sequence[Record]) -> PendingJob | None:
        """One job carrying the params (and metas) of a partition's batch, or of a sized batch route's share of it
        (at most its max_messages), named after its first and last offset by the route's naming for the
        partition: `PREFIX-PARTITION-FIRST-LAST[SUFFIX]`."""
        try:
            data = self._encode_batch(route, items)
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            # A message of the batch cannot be serialized: reject it alone, keep the rest.
            items = self._serializable(batch, route, items, str(exc), records)
            if not items:
                return None
            data = self._encode_batch(route, items)
        first, last = items[0][2], items[-1][2]
        return PendingJob(replace(naming, own_ids=True, own_descriptions=True), last, data, 0,
                          f"{naming.id_head}{first}-{last}{naming.id_tail}",
                          f"{naming.description_head}{first}..{last} ({plural(len(items), 'message')})")

    @staticmethod
    def _encode_batch(route: Route, items: list[tuple[Any, Any, int]]) -> bytes:
        args: list[Any] = [[params for params, _, _ in items]]
        if route.pass_meta:
            args.append([meta for _, meta, _ in items])
        return route.template.encode(args)

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
                    meta: dict[str, Any] | None, trace: Trace | None) -> bool:
        for hook, takes_meta in route.hooks:
            try:
                verdict = hook.function(params, meta) if takes_meta else hook.function(params)
            except Exception as exc:  # the hook is the operator's code: its failure is this message's outcome
                if trace is not None:
                    trace.append(TraceStep(route.name, f"before_enqueue {hook.path}",
                                           f"RAISED {type(exc).__name__}: {exc}"))
                self._reject(batch, route, record, "hook", f"before_enqueue {hook.path} raised "
                                                           f"{type(exc).__name__}: {exc}")
                return False
            if trace is not None:
                trace.append(TraceStep(route.name, f"before_enqueue {hook.path}",
                                       "true" if verdict else "false (veto)"))
            if not verdict:
                batch.skipped[(route.spec.name, "vetoed")] += 1
                return False
        return True

    @staticmethod
    def _dead_letter(batch: PartitionBatch, route: Route, record: Record, kind: DeadLetterKind, reason: str) -> None:
        if batch.dead_letters:
            last = batch.dead_letters[-1]
            if last.record is record and last.kind == kind and last.reason == reason \
                    and last.topic == route.spec.dead_letter:
                last.also.append(route.spec.name)
                return
        batch.dead_letters.append(DeadLetter(route, record, kind, reason))

    def _reject(self, batch: PartitionBatch, route: Route, record: Record, kind: DeadLetterKind,
                reason: str) -> None:
        if route.spec.on_error == "dead_letter":
            self._dead_letter(batch, route, record, kind, reason)
        else:
            batch.skipped[(route.spec.name, ERROR_SKIPS[kind])] += 1
            batch.skip_notes.append((route.spec.name, record.offset, f"{kind}: {reason}"))

    @staticmethod
    def _description(template: str | None, topic: str, partition: int, offset: int, record: Record) -> str:
        """A route's own `job.description` for one message (the default one is the naming's)."""
        assert template is not None  # only routes with their own description get here (JobNaming.own_descriptions)
        key = text_or_none(record.key)
        # "-" for a message without a key: "None" in `rq info` reads like a key that is the word None.
        return template.format(topic=topic, partition=partition, offset=offset, key="-" if key is None else key)
