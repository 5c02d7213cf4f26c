"""A filter's comparisons against the route's schema: `params.amount > "zero"` where the schema says amount is a
number fails for every message ("cannot compare number with string"), so it is refused when the file is read.

Only what the schema states plainly is used: a field reached through
`properties` from the top, with a `type`. A field behind `$ref`, `allOf`,
`anyOf` or the like, or without a `type`, is not judged (the filter may
be right); nor is a type list that allows the literal's kind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from karafkad.routes.filter_runtime import Ordering, kind

_KINDS = {"number": "number", "integer": "number", "string": "string", "boolean": "boolean", "object": "mapping",
          "array": "list", "null": "null"}
"""JSON Schema types -> the filter's words for them (routes.filter_runtime.kind)."""
_ORDERED = frozenset({"number", "string"})
"""The kinds <, <=, >, >= compare (each with its own kind only)."""


def declared_types(schema: Any, path: tuple[str, ...]) -> frozenset[str] | None:
    """The JSON Schema types the schema plainly declares for the field at `path`; None when it does not say."""
    node = schema
    for key in path:
        properties = node.get("properties") if isinstance(node, Mapping) else None
        if not isinstance(properties, Mapping) or key not in properties:
            return None
        node = properties[key]
    if not isinstance(node, Mapping):
        return None
    declared = node.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list) and all(isinstance(t, str) for t in declared):
        return frozenset(declared)
    return None


def mismatches(orderings: tuple[Ordering, ...], schema: Any) -> Iterator[tuple[int, str]]:
    """(column, message) for each comparison that cannot succeed on a message the schema accepts."""
    for ordering in orderings:
        declared = declared_types(schema, ordering.path)
        if not declared:
            continue
        literal_kind = kind(ordering.literal)
        kinds = {_KINDS.get(t, t) for t in declared}
        if literal_kind in kinds:
            continue
        field = "params" + "".join(f".{key}" for key in ordering.path)
        field_kind = sorted(kinds & _ORDERED or kinds)[0]
        yield ordering.column, (f"{field} is {' or '.join(sorted(declared))} in the route's schema, so "
                                f"`{ordering.symbol} {json.dumps(ordering.literal)}` fails for every message (cannot "
                                f"compare {field_kind} with {literal_kind})")
