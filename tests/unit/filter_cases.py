"""Filters compiled and run on a message, for the tests of the filter language (compiler, run time, fuzzing)."""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any

from karafkad.errors import ExpressionError, FilterRuntimeError
from karafkad.routes.filter_compiler import compile_filter
from karafkad.routes.filter_runtime import Filter

ORDER = {"id": 7, "total": 250.5, "currency": "EUR", "customer": {"email": "ann@example.com", "vip": True},
         "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}], "tags": ["new", "gift"], "note": None}
"""The params of the message the language's tests read, unless they give their own."""

_ORDER = object()


def run(source: str, params: Any = _ORDER, **fields: Any) -> bool:
    """Compile `source` and evaluate it on one message (by default a copy of ORDER)."""
    return compile_filter(source)(copy.deepcopy(ORDER) if params is _ORDER else params, **fields)


def evaluate(source: str, params: Any, key: Any = "k", header_values: Any = None) -> None:
    """Compile; when it compiles, evaluate: only ExpressionError / FilterRuntimeError, a bool, nothing changed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning escaping compile_filter would reach `karafkad check`'s output
            compiled = compile_filter(source)
    except ExpressionError as exc:
        assert exc.column >= 0 and exc.message
        return
    assert isinstance(compiled, Filter)
    before = copy.deepcopy((params, key, header_values))
    try:
        result = compiled.function(params, key, header_values, "orders", 0, 42, 1_700_000_000_000)
    except FilterRuntimeError as exc:
        assert str(exc)
    else:
        assert result is True or result is False
    assert same((params, key, header_values), before)


def same(a: Any, b: Any) -> bool:
    """Equality that takes NaN for equal to itself (a payload may hold NaN), and a tuple for its list."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b
