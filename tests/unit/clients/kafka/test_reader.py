"""clients/kafka/reader.py: a topic read to the end it had at the start, outside any group, on a fake consumer
(against a real broker it is tests/integration/test_dead_letters.py's)."""

from __future__ import annotations

from typing import Any

import pytest
from tables import make_record

from karafkad.clients.kafka import reader
from karafkad.clients.kafka.reader import POLL_MS, TopicReader
from karafkad.clients.kafka.types import TopicPartition
from karafkad.config.settings import KafkaSettings

TP0, TP1 = TopicPartition("t", 0), TopicPartition("t", 1)


class FakeConsumer:
    """KafkaConsumer as the reader uses it: partitions of topics, offsets, and records served a poll at a time.

    `logs` holds each partition's records from its first offset; a poll returns what lies between a partition's
    position and its log's end (records written after the reader was made included), `batch` at a time.
    """

    def __init__(self, logs: dict[TopicPartition, tuple[int, list[Any]]], batch: int = 2, **options: Any) -> None:
        self.logs, self.batch, self.options = logs, batch, options
        self.positions: dict[TopicPartition, int] = {}
        self.paused: set[TopicPartition] = set()
        self.polls: list[int] = []
        self.closed_with: dict[str, Any] | None = None

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return {tp.partition for tp in self.logs if tp.topic == topic} or None

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = list(partitions)

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        for tp in partitions:
            self.positions[tp] = self.logs[tp][0]

    def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.logs[tp][0] + len(self.logs[tp][1]) for tp in partitions}

    def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.logs[tp][0] for tp in partitions}

    def poll(self, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        self.polls.append(timeout_ms)
        out = {}
        for tp, (first, records) in self.logs.items():
            if tp in self.paused:
                continue
            taken = records[self.positions[tp] - first:][:self.batch]
            if taken:
                out[tp] = taken
                self.positions[tp] += len(taken)
        return out

    def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused.update(partitions)

    def close(self, **options: Any) -> None:
        self.closed_with = options


def _reader(monkeypatch: pytest.MonkeyPatch, consumer: FakeConsumer, topics: list[str]) -> TopicReader:
    def make(**options: Any) -> FakeConsumer:
        consumer.options = options
        return consumer

    monkeypatch.setattr(reader, "KafkaConsumer", make)
    return TopicReader(KafkaSettings(), topics)


def _records(partition: int, offsets: range) -> list[Any]:
    return [make_record(o, b"v%d" % o, partition=partition) for o in offsets]


class TestTopicReader:
    def test_reads_outside_any_group_committing_nothing(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """No group id, no auto commit, committed records only; closed without a commit."""
        consumer = FakeConsumer({TP0: (0, [])})
        topic_reader = _reader(monkeypatch, consumer, ["t"])
        assert (consumer.options["group_id"], consumer.options["enable_auto_commit"],
                consumer.options["isolation_level"]) == (None, False, "read_committed")
        assert consumer.options["client_id"] == "karafkad-reader"
        topic_reader.close()
        assert consumer.closed_with == {"autocommit": False}

    def test_every_record_of_every_partition_up_to_the_end_it_had(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Each partition from its first offset (a deleted start skipped) to its end when the reader was made;
        records written later are not read, and a partition read to its end is paused."""
        consumer = FakeConsumer({TP0: (0, _records(0, range(3))), TP1: (5, _records(1, range(5, 8)))})
        topic_reader = _reader(monkeypatch, consumer, ["t"])
        assert topic_reader.total == 6
        consumer.logs[TP0][1].extend(_records(0, range(3, 6)))  # written after the start
        got = [(r.partition, r.offset) for r in topic_reader.records()]
        assert sorted(got) == [(0, 0), (0, 1), (0, 2), (1, 5), (1, 6), (1, 7)]
        assert consumer.paused == {TP0, TP1}
        assert set(consumer.polls) == {POLL_MS}

    def test_a_topic_that_does_not_exist_is_named_and_read_as_empty(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """missing names it; with no partition at all nothing is sought (kafka-python would raise) or polled."""
        consumer = FakeConsumer({})
        topic_reader = _reader(monkeypatch, consumer, ["nope"])
        assert topic_reader.missing == ["nope"]
        assert (topic_reader.total, list(topic_reader.records()), consumer.polls) == (0, [], [])
        assert (topic_reader.ends, topic_reader.starts) == ({}, {})

    def test_empty_partitions_are_not_waited_for(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A partition whose start is its end has nothing to read: no poll waits for it."""
        consumer = FakeConsumer({TP0: (4, []), TP1: (0, _records(1, range(1)))})
        topic_reader = _reader(monkeypatch, consumer, ["t"])
        assert [(r.partition, r.offset) for r in topic_reader.records()] == [(1, 0)]
        assert len(consumer.polls) == 1
