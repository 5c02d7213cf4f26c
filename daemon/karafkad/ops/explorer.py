"""The console's explorer: a topic's messages, by partition and offset or time, each with what became of it.

For every message read (outside any group: clients/kafka/reader.py), each
group that consumes the topic runs its routes over it with the daemon's own
pipeline (pipeline/explaining.py, the trace `karafkad explain` prints), and
then Redis and Kafka are asked what really happened: whether the group has
handled the offset (its mark), the job each route made (by its id, and its
status in RQ), and, for a message a route rejected, its dead letter (found in
the dead-letter topic by its origin headers). The decisions are the current
routes file's; the job and the dead letter are what the daemon did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from redis import Redis

from karafkad.clients.kafka.reader import MessageReader
from karafkad.clients.kafka.types import Record, TopicPartition
from karafkad.config.settings import RedisSettings
from karafkad.pipeline.explaining import RouteExplanation, explain
from karafkad.routes.table import RouteTable
from karafkad.store.dead_letter_headers import parse
from karafkad.store.keys import job_key, mark_key

LIMIT = 100
"""Messages shown at most per search."""
SCAN = 2000
"""Messages read at most per partition for a search with text to find (from the start chosen)."""
DEAD_LETTER_SCAN = 5000
"""Dead letters read at most per partition of a dead-letter topic to find those of the messages shown (from the
oldest message's time on)."""
DEAD_LETTER_SLACK_MS = 60_000
"""How much earlier than its message a dead letter's timestamp may be (a producer's clock ahead of the
daemon's): the search starts this long before the oldest message's time."""

Connect = Callable[[RedisSettings], "Redis[bytes]"]


@dataclass(frozen=True)
class Query:
    """Which messages to show: of a topic, some partitions (all: empty), from an offset or a time (neither: the
    latest), those containing a text (in key, headers or value; empty: all), at most `limit`."""

    topic: str
    partitions: tuple[int, ...] = ()
    offset: int | None = None
    time_ms: int | None = None
    contains: str = ""
    limit: int = 20


@dataclass
class RouteFate:
    """One route's decision on a message, and what the daemon did."""

    explanation: RouteExplanation
    job_id: str | None = None
    job_status: str | None = None
    """RQ's status of the job (`queued`, `finished`, ...), or why there is none; None: not looked up."""
    dead_letter: str | None = None
    """Where its dead letter is (`topic[partition]@offset`), when found."""
    note: str = ""


@dataclass
class GroupFate:
    group: str
    handled: bool | None
    """Whether the group has handled the offset (its mark reaches it); None: Redis could not say."""
    routes: list[RouteFate]


@dataclass
class Found:
    record: Record
    groups: list[GroupFate]


@dataclass
class Exploration:
    query: Query
    messages: list[Found] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)
    """The topic's partitions."""
    problem: str | None = None
    """Why nothing could be read (no such topic, no route consumes it)."""
    unread: list[str] = field(default_factory=list)
    """What could not be looked up (a Redis that did not answer, a dead-letter topic)."""


def _contains(needle: str) -> Callable[[Record], bool]:
    wanted = needle.encode().lower()

    def match(record: Record) -> bool:
        parts = [record.key or b"", record.value or b""]
        parts += [k.encode("utf-8", "surrogateescape") + b"=" + (v or b"") for k, v in record.headers]
        return any(wanted in part.lower() for part in parts)

    return match


class Explorer:
    """Reads and explains messages for one routes file (the running daemon's current one)."""

    def __init__(self, table: Callable[[], RouteTable], reader: Callable[[], MessageReader],
                 connect: Connect) -> None:
        self.table = table
        self.reader = reader
        self.connect = connect

    def topics(self) -> list[str]:
        """The topics the routes consume."""
        return sorted({t for g in self.table().groups.values() for t in g.by_topic})

    def explore(self, query: Query) -> Exploration:
        table = self.table()
        out = Exploration(query)
        if not any(query.topic in g.by_topic for g in table.groups.values()):
            out.problem = f"no route of {table.config.file} consumes topic {query.topic!r}"
            return out
        reader = self.reader()
        try:
            numbers = reader.partitions(query.topic)
            if numbers is None:
                out.problem = f"topic {query.topic!r} does not exist"
                return out
            out.partitions = numbers
            records = reader.read(self._spans(reader, query, numbers),
                                  _contains(query.contains) if query.contains else None, min(query.limit, LIMIT))
            out.messages = [Found(r, self._fates(table, r)) for r in records]
            self._dead_letters(reader, out)
        finally:
            reader.close()
        self._jobs(table, out)
        return out

    @staticmethod
    def _spans(reader: MessageReader, query: Query, numbers: Sequence[int]) -> dict[TopicPartition, tuple[int, int]]:
        chosen = [TopicPartition(query.topic, p) for p in (query.partitions or numbers) if p in numbers]
        width = SCAN if query.contains else min(query.limit, LIMIT)
        bounds = reader.bounds(chosen)
        starts = reader.at_time(chosen, query.time_ms) if query.time_ms is not None else {}
        spans = {}
        for tp, (first, end) in bounds.items():
            if query.offset is not None:
                start = max(query.offset, first)
            elif query.time_ms is not None:
                found = starts.get(tp)
                start = end if found is None else found
            else:
                start = max(first, end - width)
            spans[tp] = (start, min(end, start + width))
        return spans

    @staticmethod
    def _fates(table: RouteTable, record: Record) -> list[GroupFate]:
        return [GroupFate(g.group.id, None, [RouteFate(r) for r in g.routes]) for g in explain(table, record)]

    def _jobs(self, table: RouteTable, out: Exploration) -> None:
        """The groups' marks and the jobs' statuses, asked of each group's Redis in one round trip."""
        by_redis: dict[RedisSettings, list[tuple[Found, GroupFate]]] = {}
        for found in out.messages:
            for fate in found.groups:
                by_redis.setdefault(table.config.redis_for(fate.group), []).append((found, fate))
        for settings, entries in by_redis.items():
            asked: list[tuple[GroupFate, RouteFate | None]] = []
            try:
                client = self.connect(settings)
                with client.pipeline(transaction=False) as pipe:
                    for found, fate in entries:
                        record = found.record
                        pipe.get(mark_key(fate.group, record.topic, record.partition))
                        asked.append((fate, None))
                        for route in fate.routes:
                            jobs = route.explanation.jobs
                            if route.explanation.route.spec.batch is not None and jobs:
                                route.note = ("a batch route: its job holds a batch of messages, named by the "
                                              "batch's first and last offsets")
                            elif jobs:
                                route.job_id = jobs[0].job_id
                                pipe.hget(job_key(route.job_id), "status")
                                asked.append((fate, route))
                    answers = pipe.execute()
            except Exception as exc:  # a Redis that does not answer leaves the fates without what it knows
                out.unread.append(f"Redis {settings.describe()}: {type(exc).__name__}: {exc}")
                continue
            offsets = {id(fate): found.record.offset for found, fate in entries}
            for (fate, job_of), answer in zip(asked, answers, strict=True):
                if job_of is None:
                    fate.handled = answer is not None and offsets[id(fate)] <= int(answer)
                elif answer is not None:
                    job_of.job_status = answer.decode() if isinstance(answer, bytes) else str(answer)
                else:
                    job_of.job_status = ("not in Redis: made, run and expired after its result_ttl, or deleted"
                                        if fate.handled else "not made yet: the group has not handled this offset")

    def _dead_letters(self, reader: MessageReader, out: Exploration) -> None:
        """Find the dead letter of each message a route dead-letters, in its dead-letter topic."""
        wanted: dict[str, list[tuple[Found, GroupFate, RouteFate]]] = {}
        for found in out.messages:
            for fate in found.groups:
                for route in fate.routes:
                    letter = route.explanation.dead_letter
                    if letter is not None and letter.topic:
                        wanted.setdefault(letter.topic, []).append((found, fate, route))
        for topic, entries in wanted.items():
            numbers = reader.partitions(topic)
            if numbers is None:
                out.unread.append(f"dead-letter topic {topic!r} does not exist (no dead letter yet?)")
                continue
            tps = [TopicPartition(topic, p) for p in numbers]
            since = min(found.record.timestamp for found, _, _ in entries) - DEAD_LETTER_SLACK_MS
            starts, bounds = reader.at_time(tps, max(since, 0)), reader.bounds(tps)
            spans = {}
            for tp, (_, end) in bounds.items():
                start = starts.get(tp)
                start = end if start is None else start
                spans[tp] = (start, min(end, start + DEAD_LETTER_SCAN))
            places: dict[tuple[str, str, int, int, str], str] = {}
            for record in reader.read(spans):
                stored = parse(record)
                if stored is not None:
                    origin = stored.original
                    for name in stored.routes:
                        places.setdefault((stored.group, origin.topic, origin.partition, origin.offset, name),
                                          stored.where)
            for found, fate, route in entries:
                record = found.record
                route.dead_letter = places.get((fate.group, record.topic, record.partition, record.offset,
                                                route.explanation.route.name))
