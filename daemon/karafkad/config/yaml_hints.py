"""What a YAML syntax error likely means, in words: PyYAML says where it stopped reading, not why.

Two mistakes make most of the syntax errors in a routes file: an expression
(a filter, a description) written without quotes, whose `: ` or quotes YAML
reads as its own; and a line indented one or two spaces off, which YAML
reads as part of the line above or as a key of no mapping. Each hint is said
only when the text around the error shows that mistake.
"""

from __future__ import annotations

import re

_EXPRESSION_KEYS = ("filter", "description")
"""Keys whose values are expressions or text that often hold `: `, quotes or `#`, which YAML reads as its own."""
_EXPRESSION_KEY = re.compile(r"(?:^|[\s{,])(" + "|".join(_EXPRESSION_KEYS) + r"):[ \t]+")

_MISPLACED_LINE = ("expected <block end>", "did not find expected key", "did not find expected '-' indicator")
"""How PyYAML (Python, then C) says a line starts in a column that fits no mapping or list it could belong to."""
_KEY_IN_A_VALUE = "mapping values are not allowed"
"""How PyYAML says it met `key:` where a value went on (both parsers start so)."""

_INDENT = re.compile(r" *((?:- +)*)")
"""A line's indentation, then any `- ` of list items before its first key or value."""
_KEY_WITH_VALUE = re.compile(r" *(?:- +)*[^\s#:][^:#]*:[ \t]+[^\s#]")
_NO_SPACE_DASH = re.compile(r" *-[A-Za-z_]")


def quote_hint(text: str, index: int) -> str:
    """A hint when a syntax error lies in the value of a `filter:` (or another expression key) on its line:
    YAML read the unquoted expression as YAML, so the whole of it wants quoting."""
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    line = text[start: end if end >= 0 else len(text)]
    keys = [m for m in _EXPRESSION_KEY.finditer(line) if m.end() <= index - start + 1]
    if not keys:
        return ""
    found = keys[-1]
    key, value = found.group(1), line[found.end():].rstrip()
    # In a flow mapping ({..., filter: x}) where the value ends is unclear: no example there.
    flow = "{" in line[: found.start() + 1]
    example = "" if flow else f": {key}: '" + value.replace("'", "''") + "'"
    what = "expression" if key == "filter" else "value"
    return f" (quote the whole `{key}:` {what}, or YAML reads the `: ` and quotes in it as its own{example})"


def indentation_hint(text: str, line: int, problem: str) -> str:
    """A hint when the syntax error at `line` (1-based, lines split at \\n) comes of that line's indentation:
    indented further than a `key: value` line above it (YAML reads it as more of that value), or starting
    in a column where no line above it starts (YAML finds no mapping or list it could belong to)."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines) or not _content(lines[line - 1]):
        return ""
    here = lines[line - 1]
    above = [(n, lines[n - 1]) for n in range(line - 1, 0, -1) if _content(lines[n - 1])]
    column = _column(here)
    if above and _NO_SPACE_DASH.match(above[0][1]) and not _NO_SPACE_DASH.match(here):
        number, text_above = above[0]
        dash = text_above.strip().split(":")[0]
        return (f" (check line {number}: `{dash}` is a key, not a list item: a list item needs a space after "
                "its `-`)")
    if _KEY_IN_A_VALUE in problem:
        if not above:
            return ""
        number, previous = above[0]
        if column > _key_column(previous) and _KEY_WITH_VALUE.match(previous):
            return (f" (check the indentation of line {line}: it starts further right than line {number} "
                    f"(column {column}, against {_key_column(previous)}), so YAML reads it as more of line "
                    f"{number}'s value; a key of the same mapping starts in the same column)")
        return ""
    if not any(words in problem for words in _MISPLACED_LINE) or not above:
        return ""
    starts = {c for _, text_above in above for c in _columns(text_above)}
    number, previous = above[0]
    item = here.lstrip().startswith("- ")
    # The list item above that a misplaced item most likely belongs beside: the nearest one left of it.
    items = [(n, _column(t)) for n, t in above if t.lstrip().startswith("- ") and _column(t) < column + 2]
    beside = f"; the item of line {items[0][0]} starts in column {items[0][1]}" if item and items else ""
    if column not in starts:
        return (f" (check the indentation of line {line}: it starts in column {column}, where no line above it "
                f"starts (line {number} starts in column {_column(previous)}); a key goes in the column of the "
                f"other keys of its mapping, a `- ` item in that of the other items of its list{beside})")
    if item and column == _key_column(previous):
        return (f" (check the indentation of line {line}: a `- ` list item in the column of the keys of line "
                f"{number}, where YAML expects another key{beside})")
    return ""


def _content(line: str) -> bool:
    """Whether a line holds anything YAML reads (not blank, not only a comment)."""
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _column(line: str) -> int:
    """The 1-based column of a line's first character."""
    return len(line) - len(line.lstrip(" ")) + 1


def _key_column(line: str) -> int:
    """The 1-based column of the first key or value on a line, after any `- ` of list items."""
    match = _INDENT.match(line)
    return len(match.group(0)) + 1 if match is not None else _column(line)


def _columns(line: str) -> list[int]:
    """The columns where something starts on a line: its first character, and the key after each `- `."""
    found = [_column(line)]
    match = _INDENT.match(line)
    if match is not None and match.group(1):
        found.append(len(match.group(0)) + 1)
    return found
