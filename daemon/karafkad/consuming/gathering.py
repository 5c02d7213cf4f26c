"""Sized batch routes: a partition's records gathered across polls until its batch is full or has waited enough.

One poll returns a few records of each partition (tens with 8 partitions
and 500 records a poll), so `batch: true` makes small jobs. A topic with a
sized batch route (`batch: {max_messages, max_wait}`, config/settings.py's
BatchSize) has its partitions' records kept here as they are polled, in
offset order, until `max_messages` are gathered or `max_wait` seconds passed
since the first; then they are decided and written as one batch, as a poll's
records are otherwise, so the dedupe mark, the commit offsets and the
writes-in-flight rule (delivery.py) are unchanged: a batch still covers
contiguous offsets. Every route of the topic sees the records then (its
other routes wait too), and the smallest size of its sized batch routes
decides (GroupSpec.gathered). A full batch is a multiple of max_messages
records; those behind it stay, gathered since the poll that brought them.
Other topics' records pass through in the same call, as polled.

What keeps gathering from losing or repeating a record (the poll loop does
each; tests/unit/consuming/test_poll_loop.py proves each):
- a partition with records gathered is busy: its position, past them, is
  never committed on its own (positions.py), or a crash would lose them;
- a batch that leaves records gathered behind it is committed at its own
  last offset + 1, not at the partition's position (which is past them);
- a revoked partition's records are dropped: its new owner reads them again
  from the last commit; records given back to Kafka (a seek) are dropped
  too, as they will be fetched again;
- a drain decides and writes everything gathered (`take_all`) before the
  last commit;
- a poll waits no longer than the nearest batch's deadline (`wait_ms`), so
  a batch is decided in time when polls bring nothing.
While the loop waits paused (a failed write, a full RQ queue), nothing is
polled and nothing gathered changes: it is decided once the wait is over.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from karafkad.clients.kafka.types import Record, TopicPartition
from karafkad.config.settings import BatchSize, GroupSpec


@dataclass
class _Gathered:
    """One partition's records gathered, in offset order, in lots as the polls brought them."""

    lots: deque[tuple[float, Sequence[Record]]] = field(default_factory=deque)
    """(when it was polled, its records): the first lot's time is when the batch began to wait."""
    count: int = 0

    def take(self, wanted: int) -> list[Record]:
        """The first `wanted` records (a lot cut in two keeps its time for the rest)."""
        taken: list[Record] = []
        while len(taken) < wanted:
            arrived, records = self.lots.popleft()
            room = wanted - len(taken)
            taken.extend(records[:room])
            if len(records) > room:
                self.lots.appendleft((arrived, records[room:]))
        self.count -= len(taken)
        return taken


class Gatherer:
    """One consumer's gathered records, for the topics of its group's sized batch routes."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock = clock if clock is not None else time.monotonic
        """Monotonic seconds: how long a batch has waited."""
        self._group: GroupSpec | None = None
        self._sizes: dict[str, BatchSize] = {}
        """Per gathered topic, the size its batches are gathered to (of the routes last given)."""
        self._gathered: dict[TopicPartition, _Gathered] = {}
        """Partitions with records gathered (never an empty one)."""

    def gather(self, records: Mapping[TopicPartition, Sequence[Record]],
               group: GroupSpec) -> dict[TopicPartition, Sequence[Record]]:
        """Take a poll's records; answer what is to be decided now: the records of the topics not gathered, as
        polled, and each gathered partition's batch that is full or has waited its max_wait, whatever the poll
        brought. `group` is the group's current routes (a reload may change what is gathered and how much)."""
        if group is not self._group:
            self._group, self._sizes = group, group.gathered()
        now = self.clock()
        ready: dict[TopicPartition, Sequence[Record]] = {}
        for tp, polled in records.items():
            if not polled:
                continue
            if tp.topic in self._sizes or tp in self._gathered:
                gathered = self._gathered.setdefault(tp, _Gathered())
                gathered.lots.append((now, polled))
                gathered.count += len(polled)
            else:
                ready[tp] = polled
        for tp in list(self._gathered):
            batch = self._ripe(tp, now)
            if batch:
                ready[tp] = batch
        return ready

    def _ripe(self, tp: TopicPartition, now: float) -> list[Record]:
        """What of a partition's records is to be decided now: all of them once the first has waited max_wait
        (or the topic is no longer gathered, after a reload); else its full batches, if any."""
        gathered = self._gathered[tp]
        size = self._sizes.get(tp.topic)
        first = gathered.lots[0][0]
        if size is None or now - first >= size.max_wait:
            wanted = gathered.count
        else:
            wanted = gathered.count - gathered.count % size.max_messages
        if not wanted:
            return []
        batch = gathered.take(wanted)
        if not gathered.count:
            del self._gathered[tp]
        return batch

    def wait_ms(self, longest: int) -> int:
        """How long the next poll may wait for records: `longest`, or less when a gathered batch's max_wait ends
        sooner (then it is decided after that poll, even if the poll brings nothing)."""
        if not self._gathered:
            return longest
        now = self.clock()
        nearest = min(self._deadline(tp, gathered) for tp, gathered in self._gathered.items())
        return max(0, min(longest, math.ceil((nearest - now) * 1000)))

    def _deadline(self, tp: TopicPartition, gathered: _Gathered) -> float:
        size = self._sizes.get(tp.topic)
        first = gathered.lots[0][0]
        return first if size is None else first + size.max_wait

    def holds(self, tp: TopicPartition) -> bool:
        """Whether the partition has records gathered (its position is past them: not to be committed)."""
        return tp in self._gathered

    def partitions(self) -> set[TopicPartition]:
        """The partitions with records gathered."""
        return set(self._gathered)

    def take_all(self) -> dict[TopicPartition, Sequence[Record]]:
        """Every gathered record, by partition, to be decided now (a drain)."""
        taken: dict[TopicPartition, Sequence[Record]] = {
            tp: gathered.take(gathered.count) for tp, gathered in self._gathered.items()}
        self._gathered.clear()
        return taken

    def drop(self, partitions: Iterable[TopicPartition]) -> None:
        """Forget these partitions' gathered records: revoked (their new owner reads them again from the last
        commit), or given back to Kafka by a seek (fetched again)."""
        for tp in partitions:
            self._gathered.pop(tp, None)
