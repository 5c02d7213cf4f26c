"""Dead letters after the fact: read them back, and re-drive them through the routes that rejected them.

A dead letter carries its original value, key and headers, and karafkad's
headers saying which group and routes rejected it, why, and where it came
from (runtime/deadletters.py). Re-driving one runs the original message
through those routes again, with the current routes file (not back into its
topic, where the routes that accepted it would run a second time): if it
passes now, it becomes a job whose id names the dead letter (`...-d2_17`:
partition 2, offset 17 of the dead-letter topic), enqueued once even when a
re-drive is interrupted and run again (a set of the dead letters done, kept
in Redis for the dedupe window); if it still fails, it is reported with its
new reason and stays where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from redis import Redis

from karafkad.clients.kafka_types import Record
from karafkad.config.settings import RedisSettings
from karafkad.pipeline.outcomes import DEAD_LETTER_KINDS
from karafkad.pipeline.records import PlainRecord
from karafkad.pipeline.steps import Pipeline
from karafkad.pipeline.trace import clip
from karafkad.routes.table import RouteTable
from karafkad.runtime import events
from karafkad.runtime.deadletters import HEADER_PREFIX
from karafkad.runtime.enqueuer import Enqueuer, PartitionWrite

REDRIVE_STREAM = "redrive"
"""The name under which the dead letters done are kept (see enqueuer.PartitionWrite.each)."""


@dataclass(frozen=True)
class StoredDeadLetter:
    """A dead letter as it is stored: where, who rejected it and why, and the original message."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    """When it was dead-lettered (ms since the epoch)."""
    group: str
    routes: tuple[str, ...]
    kind: str
    reason: str
    original: PlainRecord

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


def parse(record: Record) -> StoredDeadLetter | None:
    """The dead letter in a record of a dead-letter topic, or None when karafkad did not write it."""
    ours: dict[str, str] = {}
    original_headers = []
    for key, value in record.headers:
        if key.startswith(HEADER_PREFIX):
            ours[key[len(HEADER_PREFIX):]] = (value or b"").decode("utf-8", "replace")
        else:
            original_headers.append((key, value))
    try:
        original = PlainRecord(ours["original_topic"], int(ours["original_partition"]),
                               int(ours["original_offset"]), record.value, record.key, tuple(original_headers),
                               int(ours.get("original_timestamp") or 0))
        return StoredDeadLetter(record.topic, record.partition, record.offset, record.timestamp, ours["group"],
                                tuple(r for r in ours["route"].split(",") if r), ours.get("error_kind", "?"),
                                ours.get("error", ""), original)
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command is about (every field empty or None: all)."""

    routes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    since: int | None = None
    """ms since the epoch; dead-lettered at or after it."""
    until: int | None = None

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in DEAD_LETTER_KINDS]
        if unknown:
            raise ValueError(f"unknown kind {', '.join(unknown)}; the kinds: {', '.join(DEAD_LETTER_KINDS)}")

    def matches(self, letter: StoredDeadLetter) -> bool:
        return ((not self.routes or any(r in self.routes for r in letter.routes))
                and (not self.kinds or letter.kind in self.kinds)
                and (self.since is None or letter.timestamp >= self.since)
                and (self.until is None or letter.timestamp < self.until))


@dataclass
class RedriveReport:
    """What a re-drive did, dead letter by dead letter."""

    jobs: int = 0
    """Jobs enqueued."""
    done: list[StoredDeadLetter] = field(default_factory=list)
    """Passed now: their jobs are enqueued."""
    already: list[StoredDeadLetter] = field(default_factory=list)
    """Re-driven by an earlier run: not enqueued again."""
    failing: list[tuple[StoredDeadLetter, str]] = field(default_factory=list)
    """Still rejected (with the new reason): they stay in the dead-letter topic."""
    skipped: list[tuple[StoredDeadLetter, str]] = field(default_factory=list)
    """Passed, but the routes now make no job of them (filtered, vetoed...)."""
    orphans: list[tuple[StoredDeadLetter, str]] = field(default_factory=list)
    """Their routes are no longer in the routes file."""


class Redriver:
    """Re-drives dead letters through the current routes, a few hundred per Redis call."""

    CHUNK = 500

    def __init__(self, table: RouteTable, connect: Callable[[RedisSettings], Redis[bytes]],
                 dry_run: bool = False) -> None:
        """`connect` makes a client for a Redis (each group's jobs go to its own)."""
        self.table = table
        self.connect = connect
        self.dry_run = dry_run
        self.report = RedriveReport()
        self._enqueuers: dict[RedisSettings, Enqueuer] = {}
        self._pipelines: dict[str, Pipeline] = {}
        self._pending: list[tuple[StoredDeadLetter, list[PartitionWrite]]] = []

    def enqueuer(self, group: str) -> Enqueuer:
        settings = self.table.config.redis_for(group)
        if settings not in self._enqueuers:
            self._enqueuers[settings] = Enqueuer.for_settings(self.connect(settings), settings)
        return self._enqueuers[settings]

    def add(self, letter: StoredDeadLetter) -> None:
        """Decide one dead letter now; its jobs are written with the next chunk."""
        group = self.table.groups.get(letter.group)
        topic_routes = group.by_topic.get(letter.original.topic, ()) if group else ()
        routes = [r for r in topic_routes if r.name in letter.routes]
        if group is None or not routes:
            missing = ", ".join(letter.routes) if group else f"group {letter.group}"
            self.report.orphans.append((letter, f"{missing} not in {self.table.config.file} (for "
                                                f"{letter.original.topic})"))
            return
        pipeline = self._pipelines.get(group.id) or self._pipelines.setdefault(
            group.id, Pipeline(group, self.table.config.daemon.max_message_bytes))
        original = letter.original
        batch = pipeline.process(original.topic, original.partition, [original], only=routes,
                                 id_suffix=f"-d{letter.partition}_{letter.offset}")
        if batch.dead_letters:
            self.report.failing.append((letter, "; ".join(f"{d.kind}: {d.reason}" for d in batch.dead_letters)))
            return
        if not batch.jobs:
            reasons = sorted({reason for _, reason in batch.skipped} | {n for _, _, n in batch.skip_notes})
            self.report.skipped.append((letter, ", ".join(reasons) or "no job"))
            return
        # Deduplicated by the dead letter's place, not the original's (the ids stay the original's).
        jobs = [job.renumbered(letter.offset) for job in batch.jobs]
        write = PartitionWrite(letter.group, letter.topic, letter.partition, letter.offset, jobs,
                               stream=REDRIVE_STREAM, each=True)
        self._pending.append((letter, [write]))
        if len(self._pending) >= self.CHUNK:
            self.flush()

    def flush(self) -> None:
        """Write the jobs decided so far (one Redis call); EnqueueError when Redis fails (run again later)."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        if self.dry_run:
            self.report.done += [letter for letter, _ in pending]
            self.report.jobs += sum(len(w.jobs) for _, writes in pending for w in writes)
            return
        by_group: dict[str, list[tuple[StoredDeadLetter, list[PartitionWrite]]]] = {}
        for letter, ws in pending:
            by_group.setdefault(letter.group, []).append((letter, ws))
        for group, entries in by_group.items():
            result = self.enqueuer(group).write([w for _, ws in entries for w in ws])
            repeated = {id(job) for job in result.duplicates}
            for letter, ws in entries:
                if all(id(job) in repeated for w in ws for job in w.jobs):
                    self.report.already.append(letter)
                else:
                    self.report.done.append(letter)
            self.report.jobs += result.written

    def finish(self) -> RedriveReport:
        self.flush()
        if not self.dry_run and (self.report.done or self.report.failing):
            summary = (f"re-drive: {len(self.report.done)} dead letter(s) became {self.report.jobs} job(s), "
                       f"{len(self.report.failing)} still failing")
            events.record(self.connect(self.table.config.redis), "redrive", summary,
                          already=len(self.report.already))
        return self.report


def redrive(table: RouteTable, connect: Callable[[RedisSettings], Redis[bytes]], letters: Iterable[StoredDeadLetter],
            *, dry_run: bool = False, progress: Callable[[int], None] | None = None) -> RedriveReport:
    """Re-drive every dead letter of `letters`; `progress(n)` after each."""
    redriver = Redriver(table, connect, dry_run)
    for count, letter in enumerate(letters, 1):
        redriver.add(letter)
        if progress is not None:
            progress(count)
    return redriver.finish()


def select(records: Iterable[Record], selection: Selection) -> Iterable[StoredDeadLetter]:
    """The dead letters among `records` that `selection` chooses (records karafkad did not write are passed over)."""
    for record in records:
        letter = parse(record)
        if letter is None:
            continue
        if selection.matches(letter):
            yield letter


def preview(value: bytes | None, width: int = 40) -> str:
    """The start of a value on one line: text as it is, other bytes escaped, null for a tombstone."""
    if value is None:
        return "null"
    return clip(value[: width * 4].decode("utf-8", "backslashreplace"), width)
