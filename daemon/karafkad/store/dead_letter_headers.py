"""The dead-letter format, one copy for both sides: the headers the daemon writes and the operator commands read.

A dead letter keeps the original value, key and headers, and adds
`karafkad.`-prefixed headers saying which group and routes rejected it, why,
and where it came from. The daemon writes them (consuming/dead_letter_sender.py);
`karafkad dead-letters` and the re-drive read them back (ops/dead_letters.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from karafkad.clients.kafka.types import Record, RecordHeaders
from karafkad.pipeline.outcomes import DeadLetter
from karafkad.pipeline.records import PlainRecord, printable_key

HEADER_PREFIX = "karafkad."
"""Prefix of the headers karafkad adds to a dead letter."""

ERROR = "error"
KIND = "error_kind"
ROUTE = "route"
"""The routes that rejected the message the same way, comma-separated."""
GROUP = "group"
ORIGINAL_TOPIC = "original_topic"
ORIGINAL_PARTITION = "original_partition"
ORIGINAL_OFFSET = "original_offset"
ORIGINAL_TIMESTAMP = "original_timestamp"

MAX_REASON = 4000
"""Characters of the reason kept in the error header (a schema problem can quote a large value)."""


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """The original headers, then karafkad's: error, kind, routes, group and the origin."""
    record = letter.record
    added = {
        ERROR: letter.reason[:MAX_REASON],
        KIND: letter.kind,
        ROUTE: ",".join(letter.route_names),
        GROUP: letter.route.spec.group,
        ORIGINAL_TOPIC: record.topic,
        ORIGINAL_PARTITION: str(record.partition),
        ORIGINAL_OFFSET: str(record.offset),
        ORIGINAL_TIMESTAMP: str(record.timestamp),
    }
    original = [(printable_key(k), v if v is not None else b"") for k, v in record.headers]
    return original + [(HEADER_PREFIX + k, v.encode("utf-8", "backslashreplace")) for k, v in added.items()]


@dataclass(frozen=True)
class StoredDeadLetter:
    """A dead letter as it is stored: where, who rejected it and why, and the original message."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    """When it was dead-lettered (ms since the epoch)."""
    group: str
    routes: tuple[str, ...]
    kind: str
    reason: str
    original: PlainRecord

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    @property
    def origin(self) -> str:
        """Where the message it holds came from."""
        return f"{self.original.topic}[{self.original.partition}]@{self.original.offset}"


def parse(record: Record) -> StoredDeadLetter | None:
    """The dead letter in a record of a dead-letter topic, or None when karafkad did not write it."""
    ours: dict[str, str] = {}
    original_headers: RecordHeaders = ()
    kept = []
    for key, value in record.headers:
        if key.startswith(HEADER_PREFIX):
            ours[key[len(HEADER_PREFIX):]] = (value or b"").decode("utf-8", "replace")
        else:
            kept.append((key, value))
    original_headers = tuple(kept)
    try:
        original = PlainRecord(ours[ORIGINAL_TOPIC], int(ours[ORIGINAL_PARTITION]), int(ours[ORIGINAL_OFFSET]),
                               record.value, record.key, original_headers, int(ours.get(ORIGINAL_TIMESTAMP) or 0))
        return StoredDeadLetter(record.topic, record.partition, record.offset, record.timestamp, ours[GROUP],
                                tuple(r for r in ours[ROUTE].split(",") if r), ours.get(KIND, "?"),
                                ours.get(ERROR, ""), original)
    except (KeyError, ValueError):
        return None
