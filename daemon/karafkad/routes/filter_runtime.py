"""The filter language at run time: the only functions a compiled filter can call.

A compiled filter (see filter_compiler) is a plain function whose every field
access, comparison and risky operator is a call to one of the helpers below;
its globals hold these helpers and nothing else (no builtins, no modules).
Each helper does what the operator means on JSON-like values and raises
FilterRuntimeError on a value it cannot handle (the route's on_error policy
then decides about the message). The language itself is described in
filter_compiler and, for people writing routes files, in docs/filters.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from karafkad import defaults
from karafkad.errors import FilterRuntimeError

NAMES = ("params", "key", "headers", "topic", "partition", "offset", "timestamp")
"""The variables an expression can read, in the order the compiled function takes them."""

FilterFunction = Callable[[Any, Any, Any, Any, Any, Any, Any], bool]
"""fn(params, key, headers, topic, partition, offset, timestamp) -> passes; raises only FilterRuntimeError."""

MAX_INT_BITS = 64 * 1024
"""Largest integer (in bits) a multiplication may produce: `*` is the only
operator that grows integers fast, and a filter has no use for 20,000 digits."""


# --- helpers: the only things compiled expressions can call ------------------

def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if type(obj) is dict else None


def _item(obj: Any, index: Any) -> Any:
    kind = type(obj)
    if kind is dict:
        return obj.get(index) if hashable(index) else None
    if (kind is list or kind is str) and type(index) is int:
        return obj[index] if -len(obj) <= index < len(obj) else None
    return None


def _exists(root: Any, path: tuple[Any, ...]) -> bool:
    obj = root
    for part in path:
        if type(obj) is dict:
            if part not in obj:
                return False
            obj = obj[part]
        elif type(obj) is list and type(part) is int and -len(obj) <= part < len(obj):
            obj = obj[part]
        else:
            return False
    return True


# The four orderings are written out rather than made by a factory: one call
# frame per comparison instead of two is a third of a simple filter's cost.


def _lt(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return False
    if (type(a) is str) is not (type(b) is str):
        raise FilterRuntimeError(f"cannot compare {kind(a)} with {kind(b)}")
    return a < b


def _le(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return False
    if (type(a) is str) is not (type(b) is str):
        raise FilterRuntimeError(f"cannot compare {kind(a)} with {kind(b)}")
    return a <= b


def _gt(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return False
    if (type(a) is str) is not (type(b) is str):
        raise FilterRuntimeError(f"cannot compare {kind(a)} with {kind(b)}")
    return a > b


def _ge(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return False
    if (type(a) is str) is not (type(b) is str):
        raise FilterRuntimeError(f"cannot compare {kind(a)} with {kind(b)}")
    return a >= b


def _in(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    kind = type(haystack)
    if kind is str:
        if type(needle) is not str:
            raise FilterRuntimeError(f"`in` a string needs a string, not {kind(needle)}")
        return needle in haystack
    if kind is list:
        return needle in haystack
    if kind is dict:
        return hashable(needle) and needle in haystack
    raise FilterRuntimeError(f"`in` needs a list, string or mapping on the right, not {kind(haystack)}")


def _not_in(needle: Any, haystack: Any) -> bool:
    return not _in(needle, haystack)


def _in_set(needle: Any, haystack: frozenset[Any]) -> bool:
    """`x in ["a", "b"]` with only literals on the right: one hash lookup."""
    try:
        return needle in haystack
    except TypeError:  # a list or mapping is in no list of literals
        return False


def _not_in_set(needle: Any, haystack: frozenset[Any]) -> bool:
    return not _in_set(needle, haystack)


def _number(value: Any, op: str) -> Any:
    if type(value) not in (int, float, bool):
        raise FilterRuntimeError(f"`{op}` needs numbers, not {kind(value)}")
    return value


def _add(a: Any, b: Any) -> Any:
    if type(a) is str and type(b) is str:
        if len(a) + len(b) > defaults.FILTER_MAX_STRING:
            raise FilterRuntimeError("string too long")
        return a + b
    return _number(a, "+") + _number(b, "+")


def _mul(a: Any, b: Any) -> Any:
    a, b = _number(a, "*"), _number(b, "*")
    if type(a) is int and type(b) is int and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        raise FilterRuntimeError(f"`*` would make an integer of more than {MAX_INT_BITS} bits")
    return a * b


def _sub(a: Any, b: Any) -> Any:
    return _number(a, "-") - _number(b, "-")


def _div(a: Any, b: Any) -> Any:
    return _number(a, "/") / _number(b, "/")


def _floordiv(a: Any, b: Any) -> Any:
    return _number(a, "//") // _number(b, "//")


def _mod(a: Any, b: Any) -> Any:
    return _number(a, "%") % _number(b, "%")


def _neg(a: Any) -> Any:
    return -_number(a, "-")


def _pos(a: Any) -> Any:
    return +_number(a, "+")


def _len(value: Any) -> int | None:
    if value is None:
        return None
    if type(value) in (str, list, dict):
        return len(value)
    raise FilterRuntimeError(f"len() needs a string, list or mapping, not {kind(value)}")


def _text_error(name: str, *values: Any) -> FilterRuntimeError:
    kinds = ", ".join(kind(v) for v in values)
    return FilterRuntimeError(f"{name}() needs strings, not {kinds}")


def _lower(value: Any) -> str | None:
    if type(value) is str:
        return value.lower()
    if value is None:
        return None
    raise _text_error("lower", value)


def _upper(value: Any) -> str | None:
    if type(value) is str:
        return value.upper()
    if value is None:
        return None
    raise _text_error("upper", value)


def _startswith(value: Any, prefix: Any) -> bool:
    if type(value) is str and type(prefix) is str:
        return value.startswith(prefix)
    if value is None or prefix is None:
        return False
    raise _text_error("startswith", value, prefix)


def _endswith(value: Any, suffix: Any) -> bool:
    if type(value) is str and type(suffix) is str:
        return value.endswith(suffix)
    if value is None or suffix is None:
        return False
    raise _text_error("endswith", value, suffix)


FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = {
    "len": (_len, 1),
    "lower": (_lower, 1),
    "upper": (_upper, 1),
    "startswith": (_startswith, 2),
    "endswith": (_endswith, 2),
}
"""Whitelisted functions: name -> (implementation, number of arguments). `exists` is special."""

HELPERS: dict[str, Any] = {
    "__builtins__": {},
    "_type": type, "_dict": dict,
    "_get": _get, "_item": _item, "_exists": _exists,
    "_in": _in, "_not_in": _not_in, "_in_set": _in_set, "_not_in_set": _not_in_set,
    "_lt": _lt, "_le": _le, "_gt": _gt, "_ge": _ge,
    "_add": _add, "_sub": _sub, "_mul": _mul, "_div": _div, "_floordiv": _floordiv, "_mod": _mod,
    "_neg": _neg, "_pos": _pos,
    **{f"_fn_{name}": impl for name, (impl, _) in FUNCTIONS.items()},
}


def kind(value: Any) -> str:
    """A value's type in the words of the filter language."""
    if value is None:
        return "null"
    return {str: "string", int: "number", float: "number", bool: "boolean", list: "list", dict: "mapping",
            tuple: "list", frozenset: "list"}.get(type(value), type(value).__name__)


def hashable(value: Any) -> bool:
    """Whether a value can be looked up in a set or a mapping key (a JSON scalar)."""
    return value is None or type(value) in (str, int, float, bool)


@dataclass(frozen=True)
class Ordering:
    """A comparison of a message field with a literal by <, <=, > or >= (a filter's part the routes table checks
    against the route's schema: a number field against a string literal fails for every message)."""

    path: tuple[str, ...]
    """The field: ("amount",) for `params.amount` or `params["amount"]`."""
    literal: Any
    column: int
    """Of the operator, in the expression (1-based)."""
    symbol: str


@dataclass(frozen=True)
class Filter:
    """A compiled expression and its source.

    `function` is what the pipeline calls for every message: a plain function
    of the seven NAMES (positional) that returns a bool and raises only
    FilterRuntimeError. Calling the Filter itself does the same with defaults
    for the fields, one call frame slower.
    """

    source: str
    function: FilterFunction
    reads: frozenset[str] = frozenset(NAMES)
    """The NAMES the expression reads: the pipeline makes a message's key text and header mapping only for
    a filter that reads them (timeit: 0.13 µs a message without key or headers, 0.37 µs with a key and
    two headers, for values the filter never looked at)."""
    orderings: tuple[Ordering, ...] = ()
    """Its comparisons of a `params` field with a literal by <, <=, > or >=."""

    def __call__(self, params: Any, key: Any = None, headers: Any = None, topic: Any = None,
                 partition: Any = None, offset: Any = None, timestamp: Any = None) -> bool:
        """True when the message passes; FilterRuntimeError when the expression fails on it."""
        return self.function(params, key, headers, topic, partition, offset, timestamp)


_RUNTIME_ERRORS = (TypeError, ValueError, ArithmeticError, RecursionError, MemoryError)
"""What a helper or operator may raise on a bad value; each becomes FilterRuntimeError."""


def _runtime_error(exc: BaseException) -> FilterRuntimeError:
    return FilterRuntimeError(f"{type(exc).__name__}: {exc}")


WRAPPER_GLOBALS = {"_FilterRuntimeError": FilterRuntimeError, "_RUNTIME_ERRORS": _RUNTIME_ERRORS,
                    "_runtime_error": _runtime_error}

