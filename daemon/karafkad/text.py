"""Text for people, one copy each: plural, clipping, close matches, tables.

The bottom floor (with errors and defaults): every floor words its output
with these, so it imports nothing of karafkad.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


def plural(count: int, word: str) -> str:
    """`1 line`, `2 lines`, `1,200 lines` (for every line a person reads: commands, logs, the status page)."""
    return f"{count:,} {word}{'s' * (count != 1)}"


def printable(data: bytes) -> str:
    """Bytes as text: UTF-8 as it is, any other byte escaped (`\\xff`): message keys and values shown to people."""
    return data.decode("utf-8", "backslashreplace")


def clip(text: str, width: int) -> str:
    """`text` on one line, at most `width` characters (an ellipsis says some were cut)."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The one of `choices` that `word` looks like a typo of, if any: what every "did you mean" offers."""
    found = difflib.get_close_matches(word, sorted(choices), n=1)
    return found[0] if found else None


def columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of `rows` in columns as wide as their widest cell, two spaces apart (none for no rows).

    A header row is simply the first row.
    """
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
