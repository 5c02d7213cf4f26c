"""Times a user writes, read one way everywhere; times shown to a person, written one way everywhere.

The bottom floor (with errors and defaults): a message's `job.at` field, the
commands' --time/--since/--until and the status page all use these, so it
imports nothing of karafkad.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

MILLISECONDS_FROM = 100_000_000_000
"""An epoch number above this is milliseconds (in seconds it would be the year 5138)."""


def epoch_ms(value: int | float | str) -> int:
    """Milliseconds since the epoch of a time written as seconds or milliseconds since the epoch (a number or a
    string of nine digits or more) or as ISO 8601 text, UTC when it has no offset; ValueError for anything else.

    The one rule for times a user writes: a message's `job.at` field and the commands' --time, --since, --until.
    """
    # Nine digits or more: epoch seconds since 1973. Eight are an ISO 8601 date (20261224), as Python reads them.
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) >= 9:
        value = int(value)
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a time")
        return int(value if value > MILLISECONDS_FROM else value * 1000)
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # documented: a time without an offset is UTC
    return int(moment.timestamp() * 1000)


def utc_ms(ms: int) -> str:
    """`2026-11-30 08:00:00Z` for milliseconds since the epoch (a Kafka record's timestamp); `-` for none (<= 0)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ") if ms > 0 else "-"


def clock(at: float) -> str:
    """`08:00:00`: the UTC time of day of `at` (seconds since the epoch), for lists of recent events."""
    return time.strftime("%H:%M:%S", time.gmtime(at))


def duration(seconds: float) -> str:
    """`5 s`, `2 min 5 s`, `2 h 1 min`, `1 d 1 h`: a span in its two largest units (uptime, ages)."""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"
