"""Read topics outside any consumer group: from the beginning to their end as they are now (TopicReader), or a
few records from chosen offsets (MessageReader).

For operator commands and the console, which look at a topic (the dead
letters, the explorer): no group is joined and nothing is committed, so
reading never disturbs a daemon.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from kafka import KafkaConsumer

from karafkad.clients.kafka.admin import command_client_options
from karafkad.clients.kafka.types import Record, TopicPartition
from karafkad.clients.kafka.workarounds import patches
from karafkad.config.settings import KafkaSettings

POLL_MS = 1000


class TopicReader:
    """Every record of some topics, partition by partition in offset order, up to the end they had at the start."""

    def __init__(self, kafka: KafkaSettings, topics: Sequence[str]) -> None:
        patches.apply()  # header keys that are not UTF-8 must not stall the reader either
        self._consumer: Any = KafkaConsumer(group_id=None, enable_auto_commit=False, isolation_level="read_committed",
                                            **command_client_options(kafka, "reader"))
        partitions = []
        self.missing: list[str] = []
        """The topics that do not exist."""
        for topic in topics:
            numbers = self._consumer.partitions_for_topic(topic)
            if not numbers:
                self.missing.append(topic)
            partitions += [TopicPartition(topic, p) for p in sorted(numbers or ())]
        self._partitions = partitions
        self._consumer.assign(partitions)
        if partitions:  # with none, kafka-python's seek_to_beginning raises ("No partitions are currently assigned")
            self._consumer.seek_to_beginning(*partitions)
        self.ends: dict[TopicPartition, int] = dict(self._consumer.end_offsets(partitions)) if partitions else {}
        self.starts: dict[TopicPartition, int] = (dict(self._consumer.beginning_offsets(partitions))
                                                   if partitions else {})

    @property
    def total(self) -> int:
        """How many offsets there are to read (an upper bound of the records)."""
        return sum(max(self.ends[tp] - self.starts.get(tp, 0), 0) for tp in self._partitions)

    def records(self) -> Iterator[Record]:
        """The records, until every partition reached the end it had when the reader was made."""
        pending = {tp for tp in self._partitions if self.ends.get(tp, 0) > self.starts.get(tp, 0)}
        while pending:
            for tp, records in self._consumer.poll(timeout_ms=POLL_MS).items():
                for record in records:
                    if record.offset < self.ends[tp]:
                        yield record
            for tp in list(pending):
                if self._consumer.position(tp) >= self.ends[tp]:
                    pending.discard(tp)
                    self._consumer.pause(tp)

    def close(self) -> None:
        self._consumer.close(autocommit=False)


READ_SECONDS = 10.0
"""Longest a console read polls: a page answers within this even when a partition is slow to fetch."""


class MessageReader:
    """A few records of some partitions, from chosen offsets, outside any consumer group (the console's explorer
    and dead letters): nothing is joined or committed, so reading never disturbs a daemon."""

    def __init__(self, kafka: KafkaSettings, client_id_suffix: str = "console") -> None:
        patches.apply()
        self._consumer: Any = KafkaConsumer(group_id=None, enable_auto_commit=False, isolation_level="read_committed",
                                            **command_client_options(kafka, client_id_suffix))

    def partitions(self, topic: str) -> list[int] | None:
        """The topic's partition numbers, or None when it does not exist."""
        numbers = self._consumer.partitions_for_topic(topic)
        return sorted(numbers) if numbers else None

    def bounds(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, tuple[int, int]]:
        """Each partition's first offset still kept and its end (the next offset to be written)."""
        if not partitions:
            return {}
        starts, ends = self._consumer.beginning_offsets(partitions), self._consumer.end_offsets(partitions)
        return {tp: (starts[tp], ends[tp]) for tp in partitions}

    def at_time(self, partitions: Sequence[TopicPartition], ms: int) -> dict[TopicPartition, int | None]:
        """Each partition's first offset whose timestamp is at or after `ms` (None: none is, so far)."""
        if not partitions:
            return {}
        found = self._consumer.offsets_for_times(dict.fromkeys(partitions, ms))
        return {tp: (found[tp].offset if found.get(tp) is not None else None) for tp in partitions}

    def read(self, spans: Mapping[TopicPartition, tuple[int, int]], match: Callable[[Record], bool] | None = None,
             limit: int | None = None, seconds: float = READ_SECONDS) -> list[Record]:
        """The records of each partition from its span's first offset up to (not including) its last, that
        `match` (when given) accepts, at most `limit` of them, in partition then offset order; what was read
        when `seconds` ran out."""
        pending = {tp: span for tp, span in spans.items() if span[1] > span[0]}
        if not pending:
            return []
        self._consumer.assign(list(pending))
        for tp, (first, _) in pending.items():
            self._consumer.seek(tp, first)
        found: list[Record] = []
        deadline = time.monotonic() + seconds
        while pending and time.monotonic() < deadline and (limit is None or len(found) < limit):
            for tp, records in self._consumer.poll(timeout_ms=POLL_MS).items():
                end = spans[tp][1]
                found += [r for r in records if r.offset < end and (match is None or match(r))]
            for tp in list(pending):
                if self._consumer.position(tp) >= pending[tp][1]:
                    del pending[tp]
                    self._consumer.pause(tp)
        found.sort(key=lambda r: (r.partition, r.offset))
        return found if limit is None else found[:limit]

    def close(self) -> None:
        self._consumer.close(autocommit=False)
