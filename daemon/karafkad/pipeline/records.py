"""The records karafkad makes itself, and the header-key checks every record gets.

The pipeline reads `clients.kafka.types.Record`, a Protocol of exactly the
fields it needs, so a kafka-python ConsumerRecord goes through as it is (no
copy per message). `PlainRecord` is the one concrete record karafkad builds
itself: a message given to `karafkad explain`, fed by a route test, or read
back from a dead-letter topic to be re-driven.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from karafkad.clients.kafka.types import RecordHeaders


@dataclass(frozen=True, slots=True)
class PlainRecord:
    """A record karafkad made itself (explain, route tests, re-drive); satisfies `Record`."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    """None for a tombstone."""
    key: bytes | None = None
    headers: RecordHeaders = field(default=())
    timestamp: int = 0
    """Milliseconds since the epoch."""


def printable_key(key: str) -> str:
    """A header key as valid UTF-8: undecodable bytes (kept by clients/kafka/workarounds/patches.py)
    become \\xNN text."""
    if key.isascii():
        return key
    return key.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def bad_header_key(headers: RecordHeaders) -> str | None:
    """The first header key that is not valid UTF-8 (as escaped text), or None."""
    for key, _ in headers:
        if not key.isascii():
            try:
                key.encode("utf-8")
            except UnicodeEncodeError:
                return printable_key(key)
    return None
