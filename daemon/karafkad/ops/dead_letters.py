"""Dead letters after the fact: read them back, and re-drive them through the routes that rejected them.

A dead letter carries its original value, key and headers, and karafkad's
headers saying which group and routes rejected it, why, and where it came
from (store/dead_letter_headers.py). Re-driving one runs the original message
through those routes again, with the current routes file (not back into its
topic, where the routes that accepted it would run a second time): if it
passes now, it becomes a job whose id names the dead letter (`...-d2_17`:
partition 2, offset 17 of the dead-letter topic); if it still fails, it is
reported with its new reason and stays where it is.

One message can have several dead letters: a replay runs the routes that
rejected it again, and they reject it again. A re-drive makes at most one job
per message of origin and route, however many dead letters the message has:
within a run, a dead letter whose message and routes an earlier one already
covered is a repeat and is not run (Repeats); across runs, and when a run is
interrupted and run again, the write of each job sets, in the same atomic
step, a mark for its message and route (`karafkad:done:GROUP:TOPIC:PARTITION:
redrive:ROUTE`, a set of the origin offsets done, kept for the dedupe window).
Marks by the dead letter's own place (`karafkad:done:GROUP:DEADTOPIC:
PARTITION:redrive`), as earlier versions wrote them, are still honoured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from redis import Redis

from karafkad.clients.kafka.types import Record
from karafkad.config.settings import RedisSettings
from karafkad.pipeline.outcomes import DEAD_LETTER_KINDS
from karafkad.pipeline.steps import Pipeline
from karafkad.routes.table import Route, RouteTable
from karafkad.store import events
from karafkad.store.dead_letter_headers import StoredDeadLetter, parse
from karafkad.store.enqueuer import Enqueuer, PartitionWrite
from karafkad.store.failures import redis_failures
from karafkad.store.keys import OLD_REDRIVE_STREAM, redrive_stream
from karafkad.text import clip, plural, printable


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


OriginKey = tuple[str, str, str, int, int]
"""(group, route, topic, partition, offset): one route's share of one message of origin."""


class Repeats:
    """The dead letters met so far in one reading, by message of origin and route, to tell the repeats.

    A replay can dead-letter a message a second time; the earlier dead letter is the one met first, in the
    order the topics are read (each partition in offset order).
    """

    def __init__(self) -> None:
        self._first: dict[OriginKey, StoredDeadLetter] = {}

    def meet(self, letter: StoredDeadLetter) -> tuple[tuple[str, ...], StoredDeadLetter | None]:
        """The routes of `letter` that no earlier dead letter of its message named (they count as met from now
        on), and the earlier dead letter it repeats: the first one met of its message with its routes, when no
        route of its own is left (None: it is no repeat)."""
        original = letter.original
        keys = {route: (letter.group, route, original.topic, original.partition, original.offset)
                for route in letter.routes}
        earlier = next((self._first[key] for key in keys.values() if key in self._first), None)
        fresh = tuple(route for route, key in keys.items() if key not in self._first)
        for route in fresh:
            self._first[keys[route]] = letter
        return fresh, earlier if not fresh else None


@dataclass
class RedriveReport:
    """What a re-drive did, dead letter by dead letter."""

    jobs: int = 0
    """Jobs enqueued."""
    done: list[StoredDeadLetter] = field(default_factory=list)
    """Passed now: their jobs are enqueued."""
    already: list[StoredDeadLetter] = field(default_factory=list)
    """Their message was re-driven by an earlier run (from this or another dead letter): not enqueued again."""
    repeats: list[tuple[StoredDeadLetter, StoredDeadLetter]] = field(default_factory=list)
    """(dead letter, the earlier one of the same message and routes in this run): not run at all."""
    failing: list[tuple[StoredDeadLetter, str]] = field(default_factory=list)
    """Still rejected (with the new reason): they stay in the dead-letter topic."""
    skipped: list[tuple[StoredDeadLetter, str]] = field(default_factory=list)
    """Passed, but the routes now make no job of them (filtered, vetoed...)."""
    orphans: list[tuple[StoredDeadLetter, str]] = field(default_factory=list)
    """Their routes are no longer in the routes file."""

    def summary(self, dry_run: bool = False) -> str:
        """Every count, zeros too, in one line (the command's last line and the status page's operation)."""
        return (f"{plural(len(self.done), 'dead letter')} {'would become' if dry_run else 'became'} "
                f"{plural(self.jobs, 'job')}; {len(self.already)} already re-driven before; "
                f"{plural(len(self.repeats), 'repeat')} of an earlier dead letter of the same message; "
                f"{len(self.failing)} still failing (kept); {len(self.skipped)} made no job now (filtered or "
                f"vetoed); {len(self.orphans)} without their route")


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
        self.repeats = Repeats()
        self.groups: set[str] = set()
        """The groups of the dead letters met (the status page's event names them)."""
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
        self.groups.add(letter.group)
        routes = self._routes_to_run(letter)
        if not routes:
            return
        group = self.table.groups[letter.group]
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
        # Deduplicated by the message of origin, route by route: a second dead letter of the same message
        # (a replay dead-lettered it again) finds its mark set. The ids stay the dead letter's.
        writes = [PartitionWrite(letter.group, original.topic, original.partition, original.offset,
                                 [job.renumbered(original.offset) for job in batch.jobs if job.route == route.name],
                                 stream=redrive_stream(route.name), each=True) for route in routes]
        self._pending.append((letter, [w for w in writes if w.jobs]))
        if len(self._pending) >= self.CHUNK:
            self.flush()

    def _routes_to_run(self, letter: StoredDeadLetter) -> list[Route]:
        """The routes of the file to run `letter` through: its own, less those an earlier dead letter of its
        message named; none (reported) when it is a repeat, or when its routes are no longer in the file."""
        fresh, earlier = self.repeats.meet(letter)
        if earlier is not None:
            self.report.repeats.append((letter, earlier))
            return []
        group = self.table.groups.get(letter.group)
        routes = [r for r in group.by_topic.get(letter.original.topic, ()) if r.name in fresh] if group else []
        if not routes:
            missing = ", ".join(fresh) if group else f"group {letter.group}"
            self.report.orphans.append((letter, f"{missing} not in {self.table.config.file} (for "
                                                f"{letter.original.topic})"))
        return routes

    def flush(self) -> None:
        """Write the jobs decided so far (one Redis call); EnqueueError when Redis fails (run again later)."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        by_group: dict[str, list[tuple[StoredDeadLetter, list[PartitionWrite]]]] = {}
        for letter, ws in pending:
            by_group.setdefault(letter.group, []).append((letter, ws))
        for group, chosen in by_group.items():
            enqueuer = self.enqueuer(group)
            if self.dry_run:
                self._count_dry(enqueuer, chosen)
                continue
            entries = self._not_done_before(enqueuer, chosen)
            result = enqueuer.write([w for _, ws in entries for w in ws])
            repeated = {id(job) for job in result.duplicates}
            for letter, ws in entries:
                if all(id(job) in repeated for w in ws for job in w.jobs):
                    self.report.already.append(letter)
                else:
                    self.report.done.append(letter)
            self.report.jobs += result.written

    def _count_dry(self, enqueuer: Enqueuer, entries: list[tuple[StoredDeadLetter, list[PartitionWrite]]]) -> None:
        """A dry run's counts, as a real run would find them: the marks are read, nothing is written."""
        old = _old_marks(enqueuer, entries)
        with redis_failures(enqueuer.settings), enqueuer.client.pipeline(transaction=False) as pipe:
            for _, writes in entries:
                for write in writes:
                    pipe.hexists(write.key, str(write.last_offset))
            marked = iter(pipe.execute())
        for (letter, writes), done_before in zip(entries, old, strict=True):
            new = [w for i, w in enumerate(writes) if not next(marked) and not (done_before and i == 0)]
            (self.report.done if new else self.report.already).append(letter)
            self.report.jobs += sum(len(w.jobs) for w in new)

    def _not_done_before(self, enqueuer: Enqueuer, entries: list[tuple[StoredDeadLetter, list[PartitionWrite]]]
                         ) -> list[tuple[StoredDeadLetter, list[PartitionWrite]]]:
        """`entries`, less what an earlier version re-drove: it marked a dead letter by its own place (see
        OLD_REDRIVE_STREAM) and made one job of it, its first route's (one mark served all its routes). That
        route is marked done the way of now, so that a repeat of the letter in a later run is not re-driven;
        the letter's other routes still run. A letter with nothing left counts as re-driven before."""
        old = _old_marks(enqueuer, entries)
        firsts = [writes[0] for (_, writes), done in zip(entries, old, strict=True) if done and writes]
        if firsts:
            with redis_failures(enqueuer.settings), enqueuer.client.pipeline(transaction=True) as pipe:
                for write in firsts:
                    pipe.hset(write.key, str(write.last_offset), "1")
                    pipe.expire(write.key, enqueuer.window)
                pipe.execute()
        left = []
        for (letter, writes), done in zip(entries, old, strict=True):
            if not done:
                left.append((letter, writes))
            elif writes[1:]:
                left.append((letter, writes[1:]))
            else:
                self.report.already.append(letter)
        return left

    def finish(self) -> RedriveReport:
        """Write what is left, and note the run (every run, zeros too) for the status pages."""
        self.flush()
        if not self.dry_run:
            events.record(self.connect(self.table.config.redis), "redrive", f"re-drive: {self.report.summary()}",
                          groups=sorted(self.groups), already=len(self.report.already),
                          repeats=len(self.report.repeats))
        return self.report


def _old_marks(enqueuer: Enqueuer, entries: list[tuple[StoredDeadLetter, list[PartitionWrite]]]) -> list[bool]:
    """For each entry, whether an earlier version re-drove its dead letter (its mark, by the letter's own place)."""
    with redis_failures(enqueuer.settings), enqueuer.client.pipeline(transaction=False) as pipe:
        for letter, _ in entries:
            pipe.hexists(PartitionWrite(letter.group, letter.topic, letter.partition, letter.offset,
                                        stream=OLD_REDRIVE_STREAM, each=True).key, str(letter.offset))
        return [bool(found) for found in pipe.execute()]


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
    return clip(printable(value[: width * 4]), width)
