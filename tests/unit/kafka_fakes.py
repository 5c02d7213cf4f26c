"""Small stand-ins for kafka-python's producer and consumer, for unit tests of karafkad.producer, the consumer
loop and their users."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from kafka.future import Future
from kafka.producer.future import RecordMetadata

from karafkad.producer import Producer


class FakeFuture(Future):
    """kafka-python's Future with FutureRecordMetadata's get(), which waits until it is settled."""

    def __init__(self) -> None:
        super().__init__()
        self.settled = threading.Event()

    def success(self, value: Any) -> Any:
        result = super().success(value)
        self.settled.set()
        return result

    def failure(self, error: Any) -> Any:
        result = super().failure(error)
        self.settled.set()
        return result

    def get(self, timeout: float | None = None) -> Any:
        if not self.settled.wait(timeout):
            raise KafkaTimeoutError(f"Timeout after waiting for {timeout} secs.")
        if self.exception is not None:
            raise self.exception
        return self.value


class _TransactionManager:
    """kafka-python's: says whether the producer reached a fatal state (every later send would fail)."""

    fatal = False

    def has_fatal_error(self) -> bool:
        return self.fatal


class FakeClient:
    """The part of KafkaProducer that Producer uses; settles futures on flush (or at once when `instant`)."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.sent: list[dict[str, Any]] = []
        self.pending: list[tuple[Future, dict[str, Any]]] = []
        self.refuse: set[bytes] = set()
        """Values the "broker" answers MessageSizeTooLargeError for."""
        self.hang = False
        """Never settle (a broker that stopped answering)."""
        self.instant = False
        self.closed = False
        self.topics = {"t": {0, 1}, "d": {0}}
        self._transaction_manager = _TransactionManager()
        self.fatal_after_refusal = False
        """Turn fatal after refusing a message, as kafka-python 3.0's idempotent producer does."""

    def send(self, topic: str, *, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]],
             partition: int | None, timestamp_ms: int | None) -> FakeFuture:
        if value is not None and len(value) > 1000:
            raise MessageSizeTooLargeError("The message is 2000 bytes when serialized")
        record = {"topic": topic, "value": value, "key": key, "headers": headers, "partition": partition}
        future = FakeFuture()
        self.pending.append((future, record))
        if self.instant:
            self.flush()
        return future

    def flush(self, timeout: float | None = None) -> None:
        if self.hang:
            raise KafkaTimeoutError("Timeout waiting for future")
        pending, self.pending = self.pending, []
        for future, record in pending:
            if record["value"] in self.refuse:
                if self.fatal_after_refusal:
                    self._transaction_manager.fatal = True
                future.failure(MessageSizeTooLargeError())
            else:
                self.sent.append(record)
                future.success(RecordMetadata(record["topic"], 0, (record["topic"], 0), len(self.sent) - 1,
                                              1_700_000_000_000, None, 0, 0, 0))

    def partitions_for(self, topic: str) -> set[int]:
        if topic not in self.topics:
            raise KafkaTimeoutError("Failed to update metadata after 1.0 secs.")
        return self.topics[topic]

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


TOO_LARGE = (" to avoid unbounded memory allocation. This error is thrown if the client attempt to produce a "
             "message larger than this maximum.")
"""The rest of kafka-python's description of MessageSizeTooLargeError."""


def make_producer(**options: Any) -> tuple[Producer, FakeClient]:
    holder: list[FakeClient] = []

    def factory(**kafka: Any) -> FakeClient:
        holder.append(FakeClient(**kafka))
        return holder[0]

    producer = Producer(bootstrap_servers="127.0.0.1:1", client_factory=factory, **options)
    producer.partitions_for("t")  # connects
    return producer, holder[0]


@dataclass
class _Position:
    offset: int


@dataclass
class _PartitionState:
    position: _Position | None = None


class _Subscription:
    """kafka-python's SubscriptionState: assignment[tp].position.offset."""

    def __init__(self) -> None:
        self.assignment: dict[TopicPartition, _PartitionState] = {}

    def move(self, tp: TopicPartition, offset: int) -> None:
        self.assignment[tp] = _PartitionState(_Position(offset))


class ParkedRecords:
    """kafka-python's PartitionRecords left parked after a batch could not be read."""

    def __init__(self, tp: TopicPartition, offset: int) -> None:
        self.topic_partition = tp
        self.next_fetch_offset = offset
        self.drained = False

    def __bool__(self) -> bool:
        return not self.drained

    def drain(self) -> None:
        self.drained = True


class _Fetcher:
    def __init__(self) -> None:
        self._next_partition_records: ParkedRecords | None = None


class FakeConsumer:
    """kafka-python's KafkaConsumer as the consumer loop uses it: plays back a script of poll results (a step
    that is callable is called with the consumer, to simulate rebalances and errors); the script's end sets
    `stop`. Its first poll assigns `assignment`."""

    def __init__(self, script: list[Any], stop: threading.Event, assignment: set[TopicPartition]) -> None:
        self.script = list(script)
        self.stop = stop
        self._assignment = set(assignment)
        self._paused: set[TopicPartition] = set()
        self.commits: list[dict[TopicPartition, int]] = []
        self.async_commits: list[dict[TopicPartition, int]] = []
        self.sync_commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.listener: Any = None
        self.polls = 0
        self.timeouts: list[int] = []
        """The timeout_ms of each poll."""
        self.closed = False
        self.log_ends: dict[TopicPartition, int] = {}
        """Each partition's highwater (100 unless set)."""
        self._subscription = _Subscription()
        """kafka-python's positions, which the loop reads after each poll (a test sets them)."""
        self._fetcher = _Fetcher()

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[TopicPartition, list[Any]]:
        self.polls += 1
        self.timeouts.append(timeout_ms)
        if self.polls == 1 and self.listener is not None:
            self.listener.on_partitions_assigned(set(self._assignment))
        if not self.script:
            self.stop.set()
            return {}
        step = self.script.pop(0)
        if callable(step):
            return step(self) or {}
        return {tp: recs for tp, recs in step.items() if tp not in self._paused}

    def assignment(self) -> set[TopicPartition]:
        return set(self._assignment)

    def assign_more(self, *tps: TopicPartition) -> None:
        """A rebalance that adds partitions (they arrive unpaused)."""
        self._assignment |= set(tps)
        self.listener.on_partitions_assigned(set(tps))

    def revoke(self, *tps: TopicPartition) -> None:
        self.listener.on_partitions_revoked(set(tps))
        self._assignment -= set(tps)
        self._paused -= set(tps)

    def pause(self, *tps: TopicPartition) -> None:
        self._paused |= set(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._paused -= set(tps)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def commit(self, offsets: dict[TopicPartition, Any], timeout_ms: int | None = None) -> None:
        """A blocking commit (on close): recorded in `commits` and `sync_commits`."""
        self.commits.append({tp: m.offset for tp, m in offsets.items()})
        self.sync_commits.append({tp: m.offset for tp, m in offsets.items()})

    def commit_async(self, offsets: dict[TopicPartition, Any], callback: Any = None) -> None:
        """An asynchronous commit, answered at once: recorded in `commits` and `async_commits`."""
        self.commits.append({tp: m.offset for tp, m in offsets.items()})
        self.async_commits.append({tp: m.offset for tp, m in offsets.items()})
        if callback is not None:
            callback(offsets, "OffsetCommitResponse")

    def highwater(self, tp: TopicPartition) -> int:
        return self.log_ends.get(tp, 100)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    def close(self, autocommit: bool = True, timeout_ms: int | None = None) -> None:
        self.closed = True
