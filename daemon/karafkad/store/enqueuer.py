"""Write a poll's jobs to Redis in one atomic round trip, never twice.

One Lua script per batch (enqueue.lua) does, for each partition: read the
partition's mark (the highest offset already handled, kept for
`dedupe_window` seconds), write and queue only the jobs above it, and move
the mark to the batch's last offset. Because the check and the write are one
atomic step, a message that comes back after a crash between enqueue and
commit, or after a rebalance, never becomes a second job, even when RQ
already ran and deleted the first one (RQ's own `unique=True` only lasts as
long as the job hash does).

A job due later (the route's job.delay or job.at) is written the same way
but goes into RQ's scheduled-job registry (`rq:scheduled:QUEUE`, scored by
its due time) instead of its queue, as RQ's own Queue.enqueue_at does; RQ's
scheduler moves it to the queue when it is due.

A mark above the partition's log end cannot be right (the topic was deleted
and recreated): the script then starts the partition afresh.

Two writes of one consumer may be in flight at once (consuming/delivery.py).
The rule that keeps that from losing anything: a later batch's mark must
never land before an earlier batch of the same partition is written, or a
retry of the earlier one, should its write fail, would find its jobs at or
below the mark and take them for duplicates. So a partition's part of a
write may name the offset its earlier batch ends at (`after`): the script
writes that part only if the mark already reaches it, and otherwise leaves
the part out entirely (no job, no mark) and says so (`WriteResult.held`), to
be written again once the earlier batch is.

The script's arguments (enqueue.lua's header has them in full; `script_call`
builds them): KEYS are rq:queues and the job key prefix; ARGV is the dedupe
window, created_at and the templates (each route's fields that never vary,
sent once per call, numbered from 1), then per partition its mark key, how
it dedupes ('m' by a mark, 'e' by a set of the offsets done), last offset,
highwater, `after` and its runs; per run (one route's jobs) the template
numbers, how ids and descriptions follow from the offset, and per job its
offset and data (plus its own id, description, due time or meta when the run
says so: a run carries meta when one of its jobs' messages carried a trace
context, so runs without stay at two arguments a job). The script answers
the count written, the positions of the duplicates and those of the held
parts (`write_result`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from itertools import chain
from operator import attrgetter
from typing import Any, Literal

from redis import Redis

from karafkad.config.settings import RedisSettings
from karafkad.errors import ReplicasBehind
from karafkad.pipeline.outcomes import JobNaming, PendingJob
from karafkad.routes.jobs import VARYING_FIELDS, JobTemplate, rq_timestamp
from karafkad.store.failures import redis_failures
from karafkad.store.keys import (
    JOB_KEY_PREFIX,
    QUEUES_KEY,
    chain_key,
    deferred_key,
    done_key,
    mark_key,
    queue_key,
    scheduled_key,
)

SCRIPT = resources.files("karafkad.store").joinpath("enqueue.lua").read_text("utf-8")
"""enqueue.lua, read once (redis-py's Script sends it to Redis once, then calls it by its SHA)."""
SCRIPT_KEYS = (QUEUES_KEY, JOB_KEY_PREFIX)
"""The script's KEYS: the set of queues and the prefix of every job's key."""

ScriptArg = str | int | float | bytes
"""One argument of the Lua script (Redis receives them all as strings)."""


@dataclass(slots=True)
class PartitionWrite:
    """One partition's part of a batch write."""

    group: str
    topic: str
    partition: int
    last_offset: int
    """Highest offset handled in this batch, jobs or not; becomes the partition's mark."""
    jobs: Sequence[PendingJob] = field(default_factory=list)
    highwater: int = -1
    """The partition's log end offset as last seen, or -1 when unknown."""
    stream: str = ""
    """Which of the partition's dedupe marks: "" for the group's consumption, `rN` for replay N (see
    store/replays.py)."""
    each: bool = False
    """Dedupe offset by offset (a set of the offsets done, `karafkad:done:...`) instead of by a mark: for jobs
    made out of order, such as re-driven dead letters (their offsets are their messages' of origin)."""
    after: int = -1
    """Write this part only if the mark already reaches this offset (the end of an earlier batch of the
    partition still in flight), else hold it (see the module docstring); -1: no condition."""

    @property
    def key(self) -> str:
        """Its mark, or its done set when it dedupes offset by offset."""
        naming = done_key if self.each else mark_key
        return naming(self.group, self.topic, self.partition, self.stream)


@dataclass(frozen=True)
class WriteResult:
    written: int
    duplicates: tuple[PendingJob, ...]
    seconds: float
    held: tuple[int, ...] = ()
    """The positions (in the order given to write) of the parts held back because their `after` was not
    reached: nothing of them was written."""
    waiting: int = 0
    """How many of the jobs written wait for an earlier job of their key or partition (ordered routes)."""


@dataclass(frozen=True)
class ScriptCall:
    """One run of the script: its arguments, and the jobs in the order it numbers them (its duplicates)."""

    argv: list[ScriptArg]
    jobs: list[PendingJob]


_OFFSET_AND_DATA = attrgetter("offset", "data")
_OFFSET_DATA_AND_META = attrgetter("offset", "data", "meta")
_META = attrgetter("meta")


def _runs(jobs: Sequence[PendingJob]) -> list[tuple[JobNaming, list[PendingJob]]]:
    """A partition's jobs by naming (one run per route), each run in offset order."""
    if not jobs:
        return []
    first = jobs[0].naming
    if all(job.naming is first for job in jobs):  # one route: no grouping per job
        return [(first, list(jobs))]
    runs: dict[JobNaming, list[PendingJob]] = {}
    for job in jobs:
        runs.setdefault(job.naming, []).append(job)
    return list(runs.items())


def _carries(naming: JobNaming, jobs: Sequence[PendingJob]) -> str:
    """What each job of the run carries besides offset and data (the script's letters, in their order): a meta
    field when any of them has one (a look at each job, done in C: a few nanoseconds a job)."""
    return ("l" if naming.ordering == "key" else "") + ("i" if naming.own_ids else "") + \
        ("d" if naming.own_descriptions else "") + ("t" if naming.timed else "") + \
        ("m" if any(map(_META, jobs)) else "")


Kind = Literal["q", "s", "d"]
"""A template's kind in the script: a job queued now, due later (scheduled registry), or waiting for another
(deferred registry)."""

ORDERING_LETTERS = {"": "", "key": "k", "partition": "p"}
"""JobNaming.ordering as the script reads it."""

PRUNE_FROM = 256
"""Fields of a chain hash (an ordered route's chains in one partition) below which it is not pruned: checking
whether each chain's last job is still open costs a Redis call per chain, so a small hash (~100 bytes a chain)
is left alone, and a larger one is pruned as it grows (see enqueue.lua)."""


class _Templates:
    """The templates of one script call, each sent once per kind it is used as, numbered from 1."""

    def __init__(self) -> None:
        self.head: list[ScriptArg] = []
        self.count = 0
        self._numbers: dict[tuple[int, Kind], int] = {}

    def number(self, template: JobTemplate, kind: Kind) -> int:
        key = (id(template), kind)
        number = self._numbers.get(key)
        if number is None:
            fields = {"q": template.fields, "s": template.scheduled_fields, "d": template.deferred_fields}[kind]
            number = self._numbers[key] = self.add(template, fields, kind)
        return number

    def add(self, template: JobTemplate, fields: dict[str, Any], kind: Kind) -> int:
        registry = "" if kind == "q" else (scheduled_key if kind == "s" else deferred_key)(template.queue)
        self.head.extend((queue_key(template.queue), 1 if template.at_front else 0, template.ttl or 0, registry,
                          kind, len(fields)))
        for name, value in fields.items():
            self.head.extend((name, value))
        self.count += 1
        return self.count


def script_call(partitions: Iterable[PartitionWrite], window: int, created: str, now: int = 0) -> ScriptCall | None:
    """The script's arguments for these parts, with `window` the dedupe window, `created` every job's created_at
    (RQ's timestamp) and `now` the whole seconds since the epoch a waiting job is scored by; None when there is
    no part."""
    templates = _Templates()
    body: list[ScriptArg] = []
    ordered: list[PendingJob] = []
    for part in partitions:
        runs = _runs(part.jobs)
        body += [part.key, "e" if part.each else "m", part.last_offset, part.highwater, part.after, len(runs)]
        for naming, jobs in runs:
            template = naming.template
            if template.rq_job is not None:  # outside the compared RQ range: RQ builds every hash
                # (ordering needs the compared range: routes/table.py refuses it here)
                for job in jobs:
                    full = template.rq_job(job.args, job.description, job.at > 0)
                    fields = {k: v for k, v in full.items() if k not in VARYING_FIELDS}
                    if job.meta:
                        fields["meta"] = job.meta
                    number = templates.add(template, fields, "s" if job.at > 0 else "q")
                    body += (number, number, 0, "", "", "", "idt", "", "", "0", 0, 1, job.offset, full["data"],
                             job.job_id, job.description, job.at)
                ordered += jobs
                continue
            carries = _carries(naming, jobs)
            chained = bool(naming.ordering)
            body += (templates.number(template, "q"), templates.number(template, "s") if naming.timed else 0,
                     templates.number(template, "d") if chained else 0,
                     naming.id_head, naming.id_tail, naming.description_head, carries,
                     ORDERING_LETTERS[naming.ordering], chain_key(naming.chain) if chained else "",
                     1 if naming.allow_failure else 0, template.failure_ttl if chained else 0, len(jobs))
            if carries == "m":
                # Jobs with a trace context, and nothing else of their own: three arguments a job, in C too.
                body.extend(chain.from_iterable(map(_OFFSET_DATA_AND_META, jobs)))
            elif carries:
                for job in jobs:
                    body += (job.offset, job.data)
                    if naming.ordering == "key":
                        body.append(job.link or b"p")
                    if naming.own_ids:
                        body.append(job.job_id)
                    if naming.own_descriptions:
                        body.append(job.description)
                    if naming.timed:
                        body.append(job.at)
                    if "m" in carries:
                        body.append(job.meta)
            else:
                # The common run: two arguments a job, gathered in C. With six arguments a job built
                # here in Python, this method and redis-py's packing took 1.0 µs a message; now 0.4
                # (50,000 in-memory messages in batches of 500, docs/benchmarks.md).
                body.extend(chain.from_iterable(map(_OFFSET_AND_DATA, jobs)))
            ordered += jobs
    if not body:
        return None
    return ScriptCall([window, created, now, PRUNE_FROM, templates.count, *templates.head, *body], ordered)


def write_result(answer: Any, jobs: Sequence[PendingJob], seconds: float) -> WriteResult:
    """The script's answer, {written, duplicates, held, waiting}, as a WriteResult: `jobs` are the call's (its
    duplicates are positions among them)."""
    written, duplicates, held, waiting = answer
    return WriteResult(int(written), tuple(jobs[int(i)] for i in duplicates), seconds, tuple(int(p) for p in held),
                       int(waiting))


class Enqueuer:
    """Writes batches of jobs (and partition marks) to Redis."""

    def __init__(self, client: Redis[bytes], dedupe_window: int,
                 clock: Callable[[], float] = time.perf_counter, settings: RedisSettings | None = None, *,
                 min_replicas: int = 0, replica_timeout_ms: int = 1000) -> None:
        """`settings` are the client's, for the words of an error (the TLS files a failure is about)."""
        self.client = client
        self.window = dedupe_window
        self.clock = clock
        self.settings = settings
        self.min_replicas = min_replicas
        """Replicas that must acknowledge a batch (Redis's WAIT) before it counts as written; 0: the primary's
        word is enough."""
        self.replica_timeout_ms = replica_timeout_ms
        self._script = client.register_script(SCRIPT)

    @classmethod
    def for_settings(cls, client: Redis[bytes], settings: RedisSettings) -> Enqueuer:
        """An enqueuer as a routes file's Redis section sets it: its dedupe window and replica acknowledgements."""
        return cls(client, settings.dedupe_window, settings=settings, min_replicas=settings.min_replicas_acked,
                   replica_timeout_ms=settings.replica_ack_timeout_ms)

    def write(self, partitions: Iterable[PartitionWrite]) -> WriteResult:
        """Write every job above its partition's mark, atomically; EnqueueError when Redis fails.

        On EnqueueError nothing may be assumed written, and nothing is
        double-written by trying again: the marks make the write idempotent.
        """
        started = self.clock()
        call = script_call(partitions, self.window, rq_timestamp(), int(time.time()))
        if call is None:
            return WriteResult(0, (), 0.0)
        with redis_failures(self.settings):
            if self.min_replicas:
                answer = self._replicated(call.argv)
            else:
                answer = self._script(keys=SCRIPT_KEYS, args=call.argv)
        return write_result(answer, call.jobs, self.clock() - started)

    def _replicated(self, argv: list[ScriptArg]) -> Any:
        """The script, then WAIT on the same connection (WAIT counts the writes of its own connection):
        ReplicasBehind when fewer replicas than required acknowledged them within the timeout."""
        with self.client.pipeline(transaction=False) as pipe:
            self._script(keys=SCRIPT_KEYS, args=argv, client=pipe)
            pipe.wait(self.min_replicas, self.replica_timeout_ms)
            answer, acknowledged = pipe.execute()
        if int(acknowledged) < self.min_replicas:
            raise ReplicasBehind(f"Redis: {acknowledged} of the {self.min_replicas} replica(s) required "
                                 f"(redis.min_replicas_acked) acknowledged the batch within "
                                 f"{self.replica_timeout_ms} ms; it is not committed and is written again")
        return answer
