"""When a job is due: now, after the route's `job.delay`, or at the time a field of the message names.

A due time is whole seconds since the epoch, which is what RQ's scheduled-job
registry scores jobs by; 0 means "enqueue now". A time that is already past
is "now" too: RQ would only move it to the queue at its scheduler's next turn.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the commands' time options import this module, and need no settings
    from karafkad.config.settings import JobOptions

MILLISECONDS_FROM = 100_000_000_000
"""An epoch number above this is milliseconds (in seconds it would be the year 5138)."""


class NotATime(Exception):
    """The message has no usable time in the field `job.at` names; the message is the reason."""


def due_at(options: JobOptions, params: Any, now: float) -> int:
    """When the job of this message is due (0: now); NotATime when `at`'s field is missing or unreadable."""
    if options.delay:
        return int(now) + options.delay
    if not options.at:
        return 0
    value = params
    for key in options.at_path:
        if not isinstance(value, dict) or key not in value:
            raise NotATime(f"job.at: the message has no {options.at}")
        value = value[key]
    due = _seconds(value, options.at)
    return 0 if due <= now else due


def _seconds(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise NotATime(f"job.at: {field} is {type(value).__name__}, not a time")
    try:
        return epoch_ms(value) // 1000
    except ValueError:
        if isinstance(value, str):
            raise NotATime(f"job.at: {field} is {value[:60]!r}, not an ISO 8601 time or seconds since the epoch") \
                from None
        raise NotATime(f"job.at: {field} is {value!r}, not a time") from None


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
