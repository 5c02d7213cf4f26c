"""Send rejected messages to their route's dead-letter topic, and wait until Kafka has them.

A dead letter keeps the original value, key and headers, and adds headers
saying why it was rejected and where it came from (store/dead_letter_headers.py). A commit offset past a
dead letter is committed only after the broker acknowledged it (acks=all). The
sending is karafkad.producer's (one Producer for the daemon, which also
replaces a kafka-python client that turned unusable).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from karafkad.clients.kafka.types import ProducerClient
from karafkad.config.settings import KafkaSettings
from karafkad.errors import DeadLetterError
from karafkad.pipeline.outcomes import DeadLetter
from karafkad.producer import Message, ProduceError, Producer
from karafkad.store.dead_letter_headers import dead_letter_headers

MAX_REQUEST_BYTES = 16 * 1024 * 1024
"""Large enough for any value the daemon accepted from the broker."""


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
