"""When a job is due: now, after the route's `job.delay`, or at the time a field of the message names.

A due time is whole seconds since the epoch, which is what RQ's scheduled-job
registry scores jobs by; 0 means "enqueue now". A time that is already past
is "now" too: RQ would only move it to the queue at its scheduler's next turn.
"""

from __future__ import annotations

from typing import Any

from karafkad.config.settings import JobOptions
from karafkad.times import epoch_ms


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

