"""Send rejected messages to their route's dead-letter topic, and wait until Kafka has them.

A dead letter keeps the original value, key and headers, and adds headers
saying why it was rejected and where it came from. Offsets behind a dead
letter are committed only after the broker acknowledged it (acks=all). The
sending is karafkad.producer's (one Producer for the daemon, which also
replaces a kafka-python client that turned unusable).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from karafkad.clients.kafka_types import ProducerClient
from karafkad.config.settings import KafkaSettings
from karafkad.errors import DeadLetterError
from karafkad.pipeline.outcomes import DeadLetter
from karafkad.pipeline.records import printable_key
from karafkad.producer import Message, ProduceError, Producer

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
    original = [(printable_key(k), v if v is not None else b"") for k, v in record.headers]
    return original + [(HEADER_PREFIX + k, v.encode("utf-8", "backslashreplace")) for k, v in added.items()]


class DeadLetterSender:
    """Sends a batch's dead letters and waits for every acknowledgement (one for the whole daemon)."""

    def __init__(self, kafka: KafkaSettings, timeout: float = 30.0,
                 client_factory: Callable[..., ProducerClient] | None = None) -> None:
        self._timeout = timeout
        self._producer = Producer(kafka, acks="all", linger_ms=5, timeout=timeout,
                                  max_request_size=MAX_REQUEST_BYTES, client_factory=client_factory)

    def send(self, letters: Sequence[DeadLetter]) -> None:
        """Send and wait for the acknowledgement of each of these letters; DeadLetterError if any is refused.

        Consumer threads call this at the same time on the one sender: each waits for its own letters
        (a flush would report a failure to whichever thread flushed next, and the thread whose letter
        was lost would commit past it).
        """
        if not letters:
            return
        try:
            self._producer.send_all((Message(letter.topic, letter.record.value, letter.record.key,
                                             dead_letter_headers(letter)) for letter in letters), self._timeout)
        except ProduceError as exc:
            raise DeadLetterError(f"dead-letter topic refused a message: {exc}") from exc

    def close(self) -> None:
        # Nothing is buffered between batches: every send() waited for its own letters.
        with contextlib.suppress(ProduceError):
            self._producer.close()
