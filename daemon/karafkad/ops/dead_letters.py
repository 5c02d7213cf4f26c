"""Dead letters after the fact: read them back, and re-drive them through the routes that rejected them.

A dead letter carries its original value, key and headers, and karafkad's
headers saying which group and routes rejected it, why, and where it came
from (store/dead_letter_headers.py). Re-driving one runs the original message
through those routes again, with the current routes file (not back into its
topic, where the routes that accepted it would run a second time), route by
route: each route it passes now makes its job, whose id names the dead letter
(`...-d2_17`: partition 2, offset 17 of the dead-letter topic); each route
that still rejects it is reported with its new reason, and the dead letter
stays where it is (it always does). A dead letter naming several routes (they
rejected the message the same way) is so re-driven for the routes fixed,
and again later for the others; `--route` limits a re-drive to those routes.

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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from redis import Redis

from karafkad.clients.kafka.types import Record
from karafkad.config.settings import RedisSettings
from karafkad.pipeline.outcomes import DEAD_LETTER_KINDS, PendingJob
from karafkad.pipeline.steps import Pipeline
from karafkad.routes.registry_decoding import schema_ids
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

    def meet(self, letter: StoredDeadLetter, routes: Sequence[str] | None = None
             ) -> tuple[tuple[str, ...], StoredDeadLetter | None]:
        """The routes of `letter` (those of `routes`, when given) that no earlier dead letter of its message
        named (they count as met from now on), and the earlier dead letter it repeats: the first one met of its
        message with those routes, when no route of its own is left (None: it is no repeat)."""
        original = letter.original
        keys = {route: (letter.group, route, original.topic, original.partition, original.offset)
                for route in (letter.routes if routes is None else routes)}
        earlier = next((self._first[key] for key in keys.values() if key in self._first), None)
        fresh = tuple(route for route, key in keys.items() if key not in self._first)
        for route in fresh:
            self._first[keys[route]] = letter
        return fresh, earlier if not fresh else None


@dataclass(frozen=True)
class StillFailing:
    """A dead letter that routes of the current routes file still reject (it stays in its topic)."""

    letter: StoredDeadLetter
    routes: tuple[str, ...]
    """The routes that reject it again; its other routes (if any) were not run or made their jobs."""
    reason: str


@dataclass
class Outcomes:
    """What each route run now made of a dead letter's message."""

    jobs: dict[str, list[PendingJob]] = field(default_factory=dict)
    failing: dict[str, str] = field(default_factory=dict)
    """route -> `kind: reason` of its rejection."""
    no_job: dict[str, str] = field(default_factory=dict)
    """route -> why it made no job (filtered, vetoed, an error it skips)."""


class Rerun:
    """Runs a dead letter's message through routes of the current routes file (one Pipeline per group)."""

    def __init__(self, table: RouteTable) -> None:
        self.table = table
        self._pipelines: dict[str, Pipeline] = {}

    def routes(self, letter: StoredDeadLetter, names: Iterable[str]) -> list[Route] | None:
        """The routes named `names` of the letter's group on its topic, in the file's order (None: no group)."""
        group = self.table.groups.get(letter.group)
        if group is None:
            return None
        wanted = set(names)
        return [r for r in group.by_topic.get(letter.original.topic, ()) if r.name in wanted]

    def run(self, letter: StoredDeadLetter, routes: Sequence[Route]) -> Outcomes:
        """Each route's outcome; the jobs' ids name the dead letter (`-dP_O`)."""
        outcomes = Outcomes()
        if not routes:
            return outcomes
        group = self.table.groups[letter.group]
        pipeline = self._pipelines.get(group.id) or self._pipelines.setdefault(
            group.id, Pipeline(group, self.table.config.daemon.max_message_bytes))
        original = letter.original
        if group.schemas is not None and original.topic in group.registry_topics:
            group.schemas.fetch(schema_ids([original]))  # RegistryUnavailable: the re-drive stops, nothing is lost
        batch = pipeline.process(original.topic, original.partition, [original], only=routes,
                                 id_suffix=f"-d{letter.partition}_{letter.offset}")
        for job in batch.jobs:
            outcomes.jobs.setdefault(job.route, []).append(job)
        for dead in batch.dead_letters:
            for name in dead.route_names:
                outcomes.failing[name] = f"{dead.kind}: {dead.reason}"
        for name, reason in batch.skipped:
            outcomes.no_job[name] = reason
        for name, _, note in batch.skip_notes:
            outcomes.no_job[name] = note
        return outcomes


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
    failing: list[StillFailing] = field(default_factory=list)
    """Still rejected by some of their routes (with the new reason); their other routes' jobs may be among
    `done`. They stay in the dead-letter topic, as every dead letter does."""
    skipped: list[tuple[StoredDeadLetter, str]] = field(default_factory=list)
    """Passed, but the routes now make no job of them (filtered, vetoed...), and none still rejects them."""
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
                 dry_run: bool = False, routes: Sequence[str] = (), who: str | None = None) -> None:
        """`connect` makes a client for a Redis (each group's jobs go to its own); `routes`, when given, are
        the only routes a dead letter is re-driven for (`--route`: of a letter naming several, those); `who`
        ran it, for the events list."""
        self.table = table
        self.who = who
        self.connect = connect
        self.dry_run = dry_run
        self.only = tuple(routes)
        self.rerun = Rerun(table)
        self.report = RedriveReport()
        self.repeats = Repeats()
        self.groups: set[str] = set()
        """The groups of the dead letters met (the status page's event names them)."""
        self._enqueuers: dict[RedisSettings, Enqueuer] = {}
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
        outcomes = self.rerun.run(letter, routes)
        if outcomes.failing:  # those routes only: the others make their jobs all the same
            self.report.failing.append(StillFailing(letter, tuple(outcomes.failing),
                                                    "; ".join(dict.fromkeys(outcomes.failing.values()))))
        if not outcomes.jobs:
            if not outcomes.failing:
                self.report.skipped.append((letter, ", ".join(sorted(set(outcomes.no_job.values()))) or "no job"))
            return
        # Deduplicated by the message of origin, route by route: a second dead letter of the same message
        # (a replay dead-lettered it again) finds its mark set. The ids stay the dead letter's.
        offset = letter.original.offset
        self._pending.append((letter, [replace(route_mark(letter, route), jobs=[j.renumbered(offset) for j in jobs])
                                       for route, jobs in outcomes.jobs.items()]))
        if len(self._pending) >= self.CHUNK:
            self.flush()

    def _routes_to_run(self, letter: StoredDeadLetter) -> list[Route]:
        """The routes of the file to run `letter` through: its own (those chosen, with --route), less those an
        earlier dead letter of its message named; none (reported) when it is a repeat, or when its routes are
        no longer in the file."""
        chosen = [r for r in letter.routes if not self.only or r in self.only]
        fresh, earlier = self.repeats.meet(letter, chosen)
        if earlier is not None:
            self.report.repeats.append((letter, earlier))
            return []
        found = self.rerun.routes(letter, fresh)
        routes = found or []
        if not routes:
            missing = ", ".join(fresh) if found is not None else f"group {letter.group}"
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
            first = _first_route_mark(letter).stream
            new = [w for w in writes if not next(marked) and not (done_before and w.stream == first)]
            (self.report.done if new else self.report.already).append(letter)
            self.report.jobs += sum(len(w.jobs) for w in new)

    def _not_done_before(self, enqueuer: Enqueuer, entries: list[tuple[StoredDeadLetter, list[PartitionWrite]]]
                         ) -> list[tuple[StoredDeadLetter, list[PartitionWrite]]]:
        """`entries`, less what an earlier version re-drove: it marked a dead letter by its own place (see
        OLD_REDRIVE_STREAM) and made one job of it, its first route's (one mark served all its routes). That
        route is marked done the way of now, so that a repeat of the letter in a later run is not re-driven;
        the letter's other routes still run. A letter with nothing left counts as re-driven before."""
        old = _old_marks(enqueuer, entries)
        firsts = [_first_route_mark(letter) for (letter, _), done in zip(entries, old, strict=True) if done]
        if firsts:
            with redis_failures(enqueuer.settings), enqueuer.client.pipeline(transaction=True) as pipe:
                for write in firsts:
                    pipe.hset(write.key, str(write.last_offset), "1")
                    pipe.expire(write.key, enqueuer.window)
                pipe.execute()
        left = []
        for (letter, writes), done in zip(entries, old, strict=True):
            rest = [w for w in writes if w.stream != _first_route_mark(letter).stream] if done else writes
            if rest:
                left.append((letter, rest))
            else:
                self.report.already.append(letter)
        return left

    def finish(self) -> RedriveReport:
        """Write what is left, and note the run (every run, zeros too) for the status pages."""
        self.flush()
        if not self.dry_run:
            by = f" by {self.who}" if self.who else ""
            events.record(self.connect(self.table.config.redis), "redrive", f"re-drive{by}: {self.report.summary()}",
                          groups=sorted(self.groups), already=len(self.report.already),
                          repeats=len(self.report.repeats), who=self.who)
        return self.report


def route_mark(letter: StoredDeadLetter, route: str) -> PartitionWrite:
    """Where a re-drive marks the job of `route` made from the letter's message of origin (no jobs in it)."""
    original = letter.original
    return PartitionWrite(letter.group, original.topic, original.partition, original.offset,
                          stream=redrive_stream(route), each=True)


def _first_route_mark(letter: StoredDeadLetter) -> PartitionWrite:
    """The mark of the letter's first route, which an earlier version's mark of the letter stands for."""
    return route_mark(letter, letter.routes[0] if letter.routes else "")


def old_mark(letter: StoredDeadLetter) -> PartitionWrite:
    """Where an earlier version marked the letter re-driven: by its own place (see OLD_REDRIVE_STREAM)."""
    return PartitionWrite(letter.group, letter.topic, letter.partition, letter.offset, stream=OLD_REDRIVE_STREAM,
                          each=True)


def _old_marks(enqueuer: Enqueuer, entries: list[tuple[StoredDeadLetter, list[PartitionWrite]]]) -> list[bool]:
    """For each entry, whether an earlier version re-drove its dead letter (its mark, by the letter's own place)."""
    with redis_failures(enqueuer.settings), enqueuer.client.pipeline(transaction=False) as pipe:
        for letter, _ in entries:
            pipe.hexists(old_mark(letter).key, str(letter.offset))
        return [bool(found) for found in pipe.execute()]


def redrive(table: RouteTable, connect: Callable[[RedisSettings], Redis[bytes]], letters: Iterable[StoredDeadLetter],
            *, dry_run: bool = False, progress: Callable[[int], None] | None = None,
            routes: Sequence[str] = (), who: str | None = None) -> RedriveReport:
    """Re-drive every dead letter of `letters` (for `routes` only, when given); `progress(n)` after each; `who`
    ran it (the events list names them)."""
    redriver = Redriver(table, connect, dry_run, routes, who)
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
