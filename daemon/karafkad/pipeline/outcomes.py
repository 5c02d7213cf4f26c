"""What the pipeline decides about a partition's share of a poll: jobs, dead letters, counted skips.

Bad input is an outcome here, never an exception. The kinds of dead letter
and the reasons of a skip are closed sets (Literals): they are metric
labels, dead-letter headers and the words of route tests files, so a new
one is added here, once.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from karafkad.clients.kafka.types import Record
from karafkad.routes.jobs import JobTemplate
from karafkad.routes.table import Route

DeadLetterKind = Literal["decode", "oversize", "schema", "filter", "hook", "tombstone", "headers", "serialize",
                         "schedule"]
"""Why a route rejected a message (the karafkad.error_kind header of its dead letter)."""

DEAD_LETTER_KINDS: tuple[DeadLetterKind, ...] = get_args(DeadLetterKind)

SkipReason = Literal["tombstone", "filtered", "vetoed", "expired", "error:decode", "error:oversize", "error:schema",
                     "error:filter", "error:hook", "error:headers", "error:serialize", "error:schedule"]
"""Why a route made no job of a message on purpose (the reason label of karafkad_messages_skipped_total):
a tombstone under `tombstone: skip`, a filter that said no, a before_enqueue hook's veto, a message older
than the route's max_age, or a rejection on a route with `on_error: skip` (`error:` and the dead-letter
kind it would have had)."""

SKIP_REASONS: tuple[SkipReason, ...] = get_args(SkipReason)

ERROR_SKIPS: dict[DeadLetterKind, SkipReason] = {
    "decode": "error:decode", "oversize": "error:oversize", "schema": "error:schema", "filter": "error:filter",
    "hook": "error:hook", "headers": "error:headers", "serialize": "error:serialize", "tombstone": "tombstone",
    "schedule": "error:schedule",
}
"""The skip a rejection becomes on a route with `on_error: skip`."""


@dataclass(frozen=True, slots=True, eq=False)
class JobNaming:
    """What the jobs of one route made from one partition's batch share: the route's template, and how a
    job's id and description follow from its offset (`id_head + offset + id_tail`, `description_head +
    offset`).

    Made once per route and batch, so no job pays for formatting its own id and description; the
    enqueuer's script puts them together in Redis.
    """

    route: str
    template: JobTemplate
    id_head: str
    """The job id up to the offset: the route's prefix and the partition, `kd-orders-0a1b2c3d4e-3-`."""
    id_tail: str = ""
    """After the offset: a replay's `-r2`, a re-drive's `-d0_17`."""
    description_head: str = ""
    """The default description up to the offset: `handlers.orders.process <- orders[3]@`."""
    own_ids: bool = False
    """Its jobs carry their own ids (a batch route's, a re-driven dead letter's) instead."""
    own_descriptions: bool = False
    """Its jobs carry their own descriptions (a route's `job.description`, a batch route's) instead."""
    timed: bool = False
    """Its jobs carry a due time (the route has `job.delay` or `job.at`; 0: due now)."""
    ordering: Literal["", "key", "partition"] = ""
    """The route's `ordering` ("" for none): each job waits for the one before it of its key (each job carries
    its link, see PendingJob.link) or of its partition."""
    chain: str = ""
    """The name of the route's chains in this partition (`<job id prefix>:<partition>`): the store keeps there
    the last job of each key (store/keys.py chain_key)."""
    allow_failure: bool = False
    """The route's `on_failure: skip`: a job whose predecessor failed for good runs all the same."""


@dataclass(slots=True)
class PendingJob:
    """A job to write: its naming (route, template, id and description), its offset and its encoded call."""

    naming: JobNaming
    offset: int
    data: bytes
    """The encoded call (see JobTemplate.encode), computed by the pipeline so a failure is this message's outcome."""
    at: int = 0
    """When the job is due, in seconds since the epoch (RQ's scheduled-job registry); 0: enqueue now."""
    own_id: str | None = None
    """The id, when the naming says jobs carry their own."""
    own_description: str | None = None
    """The description, when the naming says jobs carry their own."""
    link: bytes | None = None
    """On a route with `ordering: key`: which chain of the partition the job joins, `k:` + the message's key,
    or `p` (the partition's) for a message without one. None otherwise."""
    meta: bytes = b""
    """The job's `meta` field, serialized: the trace context its message carried (JobTemplate.meta_field), or
    karafkad's span's when the message was traced; empty for none (the job then has no meta field, as in RQ)."""

    @property
    def job_id(self) -> str:
        if self.own_id is not None:
            return self.own_id
        return f"{self.naming.id_head}{self.offset}{self.naming.id_tail}"

    @property
    def description(self) -> str:
        if self.own_description is not None:
            return self.own_description
        return f"{self.naming.description_head}{self.offset}"

    @property
    def template(self) -> JobTemplate:
        return self.naming.template

    @property
    def route(self) -> str:
        return self.naming.route

    @property
    def args(self) -> list[Any]:
        """The call's arguments, as the worker will read them from `data` (explain, route tests; decoded each
        time: not for the daemon's own path)."""
        return self.naming.template.decode(self.data)

    def renumbered(self, offset: int) -> PendingJob:
        """The same job (id, description, call) under another offset, the one its dedupe goes by (a re-driven
        dead letter's: the offset of its message of origin)."""
        naming = dataclasses.replace(self.naming, own_ids=True, own_descriptions=True)
        return PendingJob(naming, offset, self.data, self.at, self.job_id, self.description, self.link, self.meta)


@dataclass(slots=True)
class DeadLetter:
    """A message a route rejected, and why.

    When several routes of a topic reject one message for the same reason
    into the same dead-letter topic, it is sent once, naming every route.
    """

    route: Route
    record: Record
    kind: DeadLetterKind
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
    """The offset of the last record seen (jobs or not); becomes the partition's Redis mark."""
    next_offset: int = -1
    """Where the partition's position stood after the poll: last_offset + 1, or further when the poll also
    went past transaction markers or an aborted transaction's records (-1: not known, use last_offset + 1)."""
    jobs: list[PendingJob] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    skipped: Counter[tuple[str, SkipReason]] = field(default_factory=Counter)
    """(route name, reason) -> messages deliberately not enqueued."""
    skip_notes: list[tuple[str, int, str]] = field(default_factory=list)
    """(route, offset, reason) of skips caused by bad input, to be logged."""
    consumed: int = 0
    redelivered: int = 0
    dead_letters_sent: bool = False
    stream: str = ""
    """Which of the partition's dedupe marks the batch is written under ("": the group's own consumption,
    `rN`: replay N, see store/replays.py)."""

    @property
    def commit_offset(self) -> int:
        """The commit offset once this batch is written (everything below it is handled): the position after its
        poll, never below last_offset + 1 (docs/architecture.md, "Offsets, in words")."""
        return max(self.next_offset, self.last_offset + 1)
