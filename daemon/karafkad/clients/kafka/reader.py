"""Read topics from the beginning to their end as they are now, outside any consumer group.

For operator commands that look at a topic (the dead letters): no group is
joined and nothing is committed, so reading never disturbs a daemon.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
