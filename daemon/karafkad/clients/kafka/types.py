"""The Kafka client as karafkad uses it, typed: a record, a consumer, a producer (kafka-python's fit).

kafka-python ships no type information; these Protocols name exactly the
methods and fields karafkad calls, so the runtime and the producer are
checked by mypy, and unit tests can pass small fakes. `TopicPartition` and
`OffsetAndMetadata` are kafka-python's own named tuples at run time (its
methods check their type), described here for the type checker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    class TopicPartition(NamedTuple):
        topic: str
        partition: int

    class OffsetAndMetadata(NamedTuple):
        offset: int
        metadata: str
        leader_epoch: int
else:
    from kafka.structs import OffsetAndMetadata, TopicPartition

__all__ = [
    "CommitCallback",
    "ConsumerClient",
    "OffsetAndMetadata",
    "Offsets",
    "ProducerClient",
    "Record",
    "RecordHeaders",
    "SendFuture",
    "Sent",
    "TopicPartition",
]

RecordHeaders = Sequence[tuple[str, bytes | None]]
"""A record's headers as kafka-python gives them: (name, value) pairs, names may repeat."""


class Record(Protocol):
    """The fields of a Kafka record that karafkad reads (kafka-python's ConsumerRecord has them)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> RecordHeaders: ...


Offsets = Mapping[TopicPartition, OffsetAndMetadata]
CommitCallback = Callable[[Offsets, object], None]
"""callback(offsets, the broker's answer or an exception): kafka-python calls it on its I/O thread."""


class Sent(Protocol):
    """Where the broker stored a message (kafka-python's RecordMetadata)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...


class ConsumerClient(Protocol):
    """The parts of kafka-python's KafkaConsumer the consumer thread uses."""

    def subscribe(self, topics: Sequence[str] = (), pattern: str | None = None,
                  listener: object = None) -> None: ...
    def poll(self, timeout_ms: int = 0, max_records: int | None = None,
             update_offsets: bool = True) -> Mapping[TopicPartition, Sequence[Record]]: ...
    def assignment(self) -> set[TopicPartition]: ...
    def paused(self) -> set[TopicPartition]: ...
    def pause(self, *partitions: TopicPartition) -> None: ...
    def resume(self, *partitions: TopicPartition) -> None: ...
    def seek(self, partition: TopicPartition, offset: int) -> None: ...
    def position(self, partition: TopicPartition, timeout_ms: int | None = None) -> int | None: ...
    def highwater(self, partition: TopicPartition) -> int | None: ...
    def commit_async(self, offsets: Offsets | None = None, callback: CommitCallback | None = None) -> object: ...
    def commit(self, offsets: Offsets | None = None, timeout_ms: int | None = None) -> None: ...
    def close(self, autocommit: bool = True, timeout_ms: int | None = None) -> None: ...


class SendFuture(Protocol):
    """kafka-python's FutureRecordMetadata: settles when the broker answered (or the send failed)."""

    def get(self, timeout: float | None = None) -> Sent: ...
    def add_callback(self, f: Callable[[Sent], object]) -> object: ...
    def add_errback(self, f: Callable[[BaseException], object]) -> object: ...


class ProducerClient(Protocol):
    """The parts of kafka-python's KafkaProducer that karafkad.producer uses."""

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
             headers: Sequence[tuple[str, bytes]] | None = None, partition: int | None = None,
             timestamp_ms: int | None = None) -> SendFuture: ...
    def flush(self, timeout: float | None = None) -> None: ...
    def partitions_for(self, topic: str) -> set[int]: ...
    def close(self, timeout: float | None = None) -> None: ...
