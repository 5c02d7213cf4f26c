"""Small stand-ins for kafka-python's producer, for unit tests of karafkad.producer and its users."""

from __future__ import annotations

import threading
from typing import Any

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
