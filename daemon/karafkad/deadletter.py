"""Send rejected messages to their route's dead-letter topic, and wait until Kafka has them.

A dead letter keeps the original value, key and headers, and adds headers
saying why it was rejected and where it came from. Offsets behind a dead
letter are committed only after the broker acknowledged it (acks=all).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from karafkad import kafkacompat
from karafkad.errors import DeadLetterError
from karafkad.observability import get_logger
from karafkad.pipeline import DeadLetter

log = get_logger("karafkad.deadletter")

HEADER_PREFIX = "karafkad."
"""Prefix of the headers karafkad adds to a dead letter."""

MAX_REQUEST_BYTES = 16 * 1024 * 1024
"""Large enough for any value the daemon accepted from the broker."""


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """The original headers, then karafkad's: error, kind, route, group and the origin."""
    record = letter.record
    added = {
        "error": letter.reason[:4000],
        "error_kind": letter.kind,
        "route": ",".join(letter.route_names),
        "group": letter.route.spec.group,
        "original_topic": record.topic,
        "original_partition": str(record.partition),
        "original_offset": str(record.offset),
        "original_timestamp": str(record.timestamp),
    }
    original = [(kafkacompat.printable_key(k), v if v is not None else b"") for k, v in record.headers]
    return original + [(HEADER_PREFIX + k, v.encode("utf-8", "backslashreplace")) for k, v in added.items()]


class DeadLetterSender:
    """One producer for the whole daemon (KafkaProducer is thread-safe)."""

    def __init__(self, client_options: dict[str, Any], timeout: float = 30.0,
                 producer_factory: Callable[..., Any] = KafkaProducer) -> None:
        self._options = client_options
        self._timeout = timeout
        self._factory = producer_factory
        self._producer: Any = None

    def _ensure(self) -> Any:
        if self._producer is None:
            try:
                self._producer = self._factory(
                    acks="all", linger_ms=5, retries=5, max_request_size=MAX_REQUEST_BYTES,
                    reconnect_backoff_max_ms=2000,
                    max_block_ms=int(self._timeout * 1000), **self._options)
            except KafkaError as exc:
                raise DeadLetterError(f"cannot connect a producer: {exc}") from exc
        return self._producer

    def send(self, letters: Sequence[DeadLetter]) -> None:
        """Send and wait for every acknowledgement; DeadLetterError if any is refused."""
        if not letters:
            return
        producer = self._ensure()
        try:
            futures = [
                producer.send(letter.topic, value=letter.record.value, key=letter.record.key,
                              headers=dead_letter_headers(letter))
                for letter in letters
            ]
            producer.flush(timeout=self._timeout)
            for future in futures:
                future.get(timeout=self._timeout)
        except (KafkaError, ValueError, TypeError, AssertionError) as exc:
            # kafka-python 3.0 can leave its producer unusable after one refused message (every later
            # send fails); the retry after backoff gets a fresh producer instead.
            self._discard()
            raise DeadLetterError(f"dead-letter topic refused a message: {type(exc).__name__}: {exc}") from exc

    def _discard(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception as exc:  # a broken client may fail to close too; it is dropped either way
                log.debug("closing a failed dead-letter producer", error=str(exc))

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None
