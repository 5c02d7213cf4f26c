"""The partitions a consumer thread holds, as the group's rebalances change them.

kafka-python calls the rebalance listener on its I/O thread, inside poll();
there the callbacks only record what happened (and commit asynchronously
what is done for revoked partitions, see offsets.OffsetBook.revoked). The
consumer thread takes the changes after poll returns and acts on them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from kafka import ConsumerRebalanceListener
from structlog.typing import FilteringBoundLogger

from karafkad.clients.kafka.types import ConsumerClient, TopicPartition
from karafkad.consuming.offsets import OffsetBook
from karafkad.observability import Metrics


class Membership:
    """Revoked and newly assigned partitions, collected on the I/O thread, taken on the consumer thread."""

    def __init__(self, group: str, index: int, offsets: OffsetBook, metrics: Metrics,
                 log: FilteringBoundLogger) -> None:
        self.group = group
        self.index = index
        self.offsets = offsets
        self.metrics = metrics
        self.log = log
        self.consumer: ConsumerClient | None = None
        self.joined = threading.Event()
        """Set once the group assigned this member its partitions (readiness)."""
        self.assignment: frozenset[TopicPartition] = frozenset()
        self._lock = threading.Lock()
        self._revoked: set[TopicPartition] = set()
        self._new: set[TopicPartition] = set()

    def listener(self) -> ConsumerRebalanceListener:
        return _Listener(self)

    # --- on kafka-python's I/O thread ------------------------------------------

    def note_revoked(self, partitions: set[TopicPartition], can_commit: bool) -> None:
        with self._lock:
            self._revoked |= partitions
        self.offsets.revoked(self.consumer, partitions, can_commit)

    def note_assigned(self, partitions: set[TopicPartition]) -> None:
        with self._lock:
            self._new |= partitions
        self.joined.set()

    # --- on the consumer thread ------------------------------------------------

    def take_changes(self) -> tuple[set[TopicPartition], set[TopicPartition]]:
        """(revoked, newly assigned) since the last call; the assignment and its metric brought up to date."""
        with self._lock:
            revoked, self._revoked = self._revoked, set()
            new, self._new = self._new, set()
        if (revoked or new) and self.consumer is not None:
            self.assignment = frozenset(self.consumer.assignment())
            self.metrics.assigned.labels(self.group, str(self.index)).set(len(self.assignment))
            self.log.info("assignment changed", partitions=_names(self.assignment), revoked=_names(revoked),
                          added=_names(new))
        return revoked, new

    def left(self) -> None:
        """The consumer closed: no partitions, not joined."""
        self.joined.clear()
        self.assignment = frozenset()


def _names(partitions: Iterable[TopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Runs on kafka-python's I/O thread: record, never block."""

    def __init__(self, owner: Membership) -> None:
        self.owner = owner

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self.owner.note_revoked(set(revoked), can_commit=True)

    def on_partitions_lost(self, lost: Iterable[TopicPartition]) -> None:
        self.owner.note_revoked(set(lost), can_commit=False)

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.owner.note_assigned(set(assigned))
