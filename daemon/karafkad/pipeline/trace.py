"""The steps the pipeline took for a message, as it took them, for `karafkad explain` to print.

The pipeline records a trace only when given a list to record into (the
daemon never does), so what `explain` shows is what the daemon does, step
for step: a step the pipeline skips (schema validation of a tombstone on a
`tombstone: skip` route) never shows up.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

SHOWN_CHARACTERS = 300
"""A value shown in a trace is clipped to this many characters."""


class TraceStep(NamedTuple):
    """One step of one route on one message."""

    route: str
    label: str
    """What the step is: `decode (json)`, `schema`, `filter 'params.total > 10'`, `before_enqueue orders.ok`."""
    result: str
    """What it found: the decoded params, `valid`, `INVALID: ...`, `true`, `false (veto)`, `FAILED: ...`."""


Trace = list[TraceStep]
"""What Pipeline.process appends to when asked to trace."""


def show(value: Any) -> str:
    """A value as JSON (repr for what JSON cannot say), clipped."""
    text = json.dumps(value, default=repr, ensure_ascii=False)
    return text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS - 3] + "..."

