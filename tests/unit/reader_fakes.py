"""A stand-in for clients/kafka/reader.py's MessageReader: topics as lists of records, read by spans."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from kafka import TopicPartition

from karafkad.clients.kafka.types import Record


class FakeReader:
    """`topics`: topic -> partition -> its records (offsets from each record); `starts` the first kept offset."""

    def __init__(self, topics: Mapping[str, Mapping[int, Sequence[Record]]]) -> None:
        self.topics = topics
        self.reads: list[dict[TopicPartition, tuple[int, int]]] = []
        self.closed = False

    def partitions(self, topic: str) -> list[int] | None:
        return sorted(self.topics[topic]) if topic in self.topics else None

    def bounds(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, tuple[int, int]]:
        out = {}
        for tp in partitions:
            found = self.topics[tp.topic][tp.partition]
            out[tp] = (found[0].offset if found else 0, found[-1].offset + 1 if found else 0)
        return out

    def at_time(self, partitions: Sequence[TopicPartition], ms: int) -> dict[TopicPartition, int | None]:
        return {tp: next((r.offset for r in self.topics[tp.topic][tp.partition] if r.timestamp >= ms), None)
                for tp in partitions}

    def read(self, spans: Mapping[TopicPartition, tuple[int, int]], match: Callable[[Record], bool] | None = None,
             limit: int | None = None, seconds: float = 10.0) -> list[Record]:
        self.reads.append(dict(spans))
        found = [r for tp, (first, end) in spans.items() for r in self.topics[tp.topic][tp.partition]
                 if first <= r.offset < end and (match is None or match(r))]
        found.sort(key=lambda r: (r.partition, r.offset))
        return found if limit is None else found[:limit]

    def close(self) -> None:
        self.closed = True
