"""Dead letters read for a page, and dead letters read by their places: the console's dead-letter view and its
re-drive of a selection, and `karafkad dead-letters redrive --at`.

A page reads the dead-letter topics without going through all of them: from a
time (`since`), or, without one, the newest DEAD_LETTER_SCAN of each
partition; the chosen ones (the `dead-letters list` filters: route, kind,
time) are shown with what a re-drive would do now for each of their routes
(dead_letter_states.py). A selection is named by places
(`TOPIC:PARTITION:OFFSET`): each is read back from its topic, and re-driven
as `karafkad dead-letters redrive` re-drives (dead_letters.py: at most one
job per message and route, however often it is asked).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from redis import Redis

from karafkad.clients.kafka.reader import MessageReader
from karafkad.clients.kafka.types import TopicPartition
from karafkad.config.settings import RedisSettings
from karafkad.ops.dead_letter_states import RouteState, redriven_routes, route_states
from karafkad.ops.dead_letters import Selection
from karafkad.routes.table import RouteTable
from karafkad.store.dead_letter_headers import StoredDeadLetter, parse

DEAD_LETTER_SCAN = 5000
"""Dead letters read at most per partition for a page (the newest, without `since`)."""
PAGE_LIMIT = 100
"""Dead letters shown at most on a page."""

Place = tuple[str, int, int]
"""(topic, partition, offset) of a dead letter."""


def parse_place(text: str) -> Place | None:
    """`orders-dead:0:17` -> ("orders-dead", 0, 17); None for anything else (a Kafka name holds no colon)."""
    topic, _, rest = text.strip().partition(":")
    partition, _, offset = rest.partition(":")
    if not topic or not partition.isdigit() or not offset.isdigit():
        return None
    return topic, int(partition), int(offset)


def place_of(letter: StoredDeadLetter) -> str:
    """The letter's place as parse_place reads it."""
    return f"{letter.topic}:{letter.partition}:{letter.offset}"


@dataclass
class Page:
    """The dead letters a page shows, newest first, each with its routes' re-drive states."""

    letters: list[tuple[StoredDeadLetter, dict[str, RouteState]]] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Dead-letter topics that do not exist (no dead letter yet)."""
    more: bool = False
    """More were chosen than shown."""
    unread: str | None = None
    """Why the re-drive states do not say `done` (a Redis that could not be read)."""


def browse(table: RouteTable, reader: MessageReader, connect: Callable[[RedisSettings], Redis[bytes]],
           selection: Selection, topics: Sequence[str] = (), limit: int = PAGE_LIMIT) -> Page:
    """The dead letters of `topics` (default: the routes file's dead-letter topics) that `selection` chooses."""
    page = Page(topics=list(topics or table.dead_letter_topics()))
    spans: dict[TopicPartition, tuple[int, int]] = {}
    for topic in page.topics:
        numbers = reader.partitions(topic)
        if numbers is None:
            page.missing.append(topic)
            continue
        tps = [TopicPartition(topic, p) for p in numbers]
        bounds = reader.bounds(tps)
        starts = reader.at_time(tps, selection.since) if selection.since is not None else {}
        for tp, (first, end) in bounds.items():
            if selection.since is not None:
                start = starts.get(tp)
                start = end if start is None else start
                spans[tp] = (start, min(end, start + DEAD_LETTER_SCAN))
            else:
                spans[tp] = (max(first, end - DEAD_LETTER_SCAN), end)
    chosen = [letter for letter in map(parse, reader.read(spans)) if letter is not None and selection.matches(letter)]
    chosen.sort(key=lambda letter: (-letter.timestamp, letter.topic, letter.partition, -letter.offset))
    page.more = len(chosen) > limit
    shown = chosen[:limit]
    try:
        redriven: list[set[str]] | None = redriven_routes(table, connect, shown)
    except Exception as exc:  # the list is still shown, without `done`
        redriven, page.unread = None, f"{type(exc).__name__}: {exc}"
    page.letters = list(zip(shown, route_states(table, shown, redriven), strict=True))
    return page


def letters_at(reader: MessageReader, places: Sequence[Place]) -> tuple[list[StoredDeadLetter], list[str]]:
    """The dead letters at `places` (in that order), and why each place that holds none does not."""
    spans: dict[TopicPartition, tuple[int, int]] = {}
    for topic, partition, offset in places:  # one span per partition, from its first place to its last
        tp = TopicPartition(topic, partition)
        first, end = spans.get(tp, (offset, offset + 1))
        spans[tp] = (min(first, offset), max(end, offset + 1))
    wanted = set(places)
    read = {(r.topic, r.partition, r.offset): r
            for r in reader.read(spans, lambda r: (r.topic, r.partition, r.offset) in wanted)}
    found, missing = [], []
    for place in dict.fromkeys(places):
        record = read.get(place)
        letter = parse(record) if record is not None else None
        if letter is None:
            why = "no record there" if record is None else "not a dead letter karafkad wrote"
            missing.append(f"{place[0]}:{place[1]}:{place[2]}: {why}")
        else:
            found.append(letter)
    return found, missing
