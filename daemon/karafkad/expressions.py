"""The filter language: a small, safe expression language compiled once at load.

An expression is parsed with Python's own parser (so operators and precedence
are familiar), then checked node by node against a whitelist. What passes is
translated into a new syntax tree in which every field access, comparison and
risky operator is a call to one of the small helpers below, and that tree is
compiled into a single function. No source text written by the operator is
ever executed, no attribute of any Python object is reachable (fields are dict
lookups), and the only callables in scope are the helpers.

Names: params, key, headers, topic, partition, offset, timestamp; literals
true/false/null, numbers, strings and lists. Operators: == != < <= > >=,
in / not in, and / or / not, + - * / // %, `a if c else b`. Functions: len,
lower, upper, startswith, endswith, exists. A missing field is null; an
ordering comparison with null is false; other type errors raise
FilterRuntimeError, which the route's on_error policy handles.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from karafkad import defaults

NAMES = ("params", "key", "headers", "topic", "partition", "offset", "timestamp")
"""The variables an expression can read, in the order the compiled function takes them."""

LITERALS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}

FilterFunction = Callable[[Any, Any, Any, Any, Any, Any, Any], Any]
"""fn(params, key, headers, topic, partition, offset, timestamp) -> value (truthy = pass)."""


class ExpressionError(ValueError):
    """An expression that does not compile; `column` is 1-based in the expression."""

    def __init__(self, message: str, column: int = 0) -> None:
        self.message = message
        self.column = column
        super().__init__(f"column {column}: {message}" if column else message)


class FilterRuntimeError(Exception):
    """An expression failed on one message (for example a string compared to a number)."""


# --- helpers: the only things compiled expressions can call ------------------


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if type(obj) is dict else None


def _item(obj: Any, index: Any) -> Any:
    kind = type(obj)
    if kind is dict:
        return obj.get(index) if isinstance(index, (str, int, float, bool)) or index is None else None
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


def _order(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return False
        if (type(a) is str) != (type(b) is str):
            raise FilterRuntimeError(f"cannot compare {_kind(a)} with {_kind(b)}")
        return op(a, b)

    return compare


_lt = _order(lambda a, b: a < b)
_le = _order(lambda a, b: a <= b)
_gt = _order(lambda a, b: a > b)
_ge = _order(lambda a, b: a >= b)


def _in(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    if type(haystack) is str:
        if type(needle) is not str:
            raise FilterRuntimeError(f"`in` a string needs a string, not {_kind(needle)}")
        return needle in haystack
    if type(haystack) is frozenset:
        return _hashable(needle) and needle in haystack
    if type(haystack) is list or type(haystack) is tuple:
        return needle in haystack
    if type(haystack) is dict:
        return _hashable(needle) and needle in haystack
    raise FilterRuntimeError(f"`in` needs a list, string or mapping on the right, not {_kind(haystack)}")


def _not_in(needle: Any, haystack: Any) -> bool:
    return not _in(needle, haystack)


def _number(value: Any, op: str) -> Any:
    if type(value) not in (int, float, bool):
        raise FilterRuntimeError(f"`{op}` needs numbers, not {_kind(value)}")
    return value


def _add(a: Any, b: Any) -> Any:
    if type(a) is str and type(b) is str:
        if len(a) + len(b) > defaults.FILTER_MAX_STRING:
            raise FilterRuntimeError("string too long")
        return a + b
    return _number(a, "+") + _number(b, "+")


def _mul(a: Any, b: Any) -> Any:
    return _number(a, "*") * _number(b, "*")


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
    raise FilterRuntimeError(f"len() needs a string, list or mapping, not {_kind(value)}")


def _text(name: str) -> Callable[..., Any]:
    def function(value: Any, *args: Any) -> Any:
        if value is None:
            return None if name in ("lower", "upper") else False
        if type(value) is not str or any(type(a) is not str for a in args):
            raise FilterRuntimeError(f"{name}() needs strings, not {_kind(value)}")
        return getattr(str, name)(value, *args)

    return function


FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = {
    "len": (_len, 1),
    "lower": (_text("lower"), 1),
    "upper": (_text("upper"), 1),
    "startswith": (_text("startswith"), 2),
    "endswith": (_text("endswith"), 2),
}
"""Whitelisted functions: name -> (implementation, number of arguments). `exists` is special."""

_HELPERS: dict[str, Any] = {
    "__builtins__": {},
    "_get": _get, "_item": _item, "_exists": _exists, "_in": _in, "_not_in": _not_in,
    "_lt": _lt, "_le": _le, "_gt": _gt, "_ge": _ge,
    "_add": _add, "_sub": _sub, "_mul": _mul, "_div": _div, "_floordiv": _floordiv, "_mod": _mod,
    "_neg": _neg, "_pos": _pos,
    **{f"_fn_{name}": impl for name, (impl, _) in FUNCTIONS.items()},
}

_COMPARE = {ast.Lt: "_lt", ast.LtE: "_le", ast.Gt: "_gt", ast.GtE: "_ge", ast.In: "_in", ast.NotIn: "_not_in"}
_BINARY = {ast.Add: "_add", ast.Sub: "_sub", ast.Mult: "_mul", ast.Div: "_div", ast.FloorDiv: "_floordiv",
           ast.Mod: "_mod"}
_REFUSED = {
    ast.Lambda: "lambdas are not supported",
    ast.ListComp: "comprehensions are not supported",
    ast.SetComp: "comprehensions are not supported",
    ast.DictComp: "comprehensions are not supported",
    ast.GeneratorExp: "comprehensions are not supported",
    ast.JoinedStr: "f-strings are not supported",
    ast.NamedExpr: "assignment (:=) is not supported",
    ast.Await: "await is not supported",
    ast.Starred: "* unpacking is not supported",
    ast.Dict: "mapping literals are not supported",
    ast.Slice: "slices are not supported",
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {str: "string", int: "number", float: "number", bool: "boolean", list: "list", dict: "mapping",
            tuple: "list", frozenset: "list"}.get(type(value), type(value).__name__)


def _hashable(value: Any) -> bool:
    return value is None or type(value) in (str, int, float, bool)


@dataclass(frozen=True)
class Filter:
    """A compiled expression: call it with the message fields (see NAMES)."""

    source: str
    function: FilterFunction

    def __call__(self, params: Any, key: Any = None, headers: Any = None, topic: Any = None,
                 partition: Any = None, offset: Any = None, timestamp: Any = None) -> bool:
        """True when the message passes; FilterRuntimeError when the expression fails on it."""
        try:
            return bool(self.function(params, key, headers, topic, partition, offset, timestamp))
        except FilterRuntimeError:
            raise
        except (TypeError, ValueError, ArithmeticError, RecursionError, MemoryError) as exc:
            raise FilterRuntimeError(f"{type(exc).__name__}: {exc}") from None


def compile_filter(source: str) -> Filter:
    """Check and compile `source`; ExpressionError (with a column) when it is not allowed."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("the expression is empty")
    if len(source) > defaults.FILTER_MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(source)} characters long; at most "
                              f"{defaults.FILTER_MAX_LENGTH} are allowed")
    text = " ".join(source.splitlines())  # YAML block scalars may span lines
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise _syntax(exc, text) from None
    except (ValueError, MemoryError, RecursionError):
        raise ExpressionError("the expression is nested too deeply") from None
    body = _Translator(text.strip()).translate(tree.body)
    function_tree = ast.Expression(
        body=ast.Lambda(
            args=ast.arguments(posonlyargs=[], args=[ast.arg(arg=n) for n in NAMES], kwonlyargs=[],
                               kw_defaults=[], defaults=[]),
            body=body,
        )
    )
    ast.fix_missing_locations(function_tree)
    try:
        code = compile(function_tree, "<filter>", "eval")
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("the expression is nested too deeply") from None
    # The code object was built by _Translator from whitelisted nodes only; its
    # globals hold nothing but the helpers above.
    function: FilterFunction = eval(code, dict(_HELPERS))  # noqa: S307
    return Filter(source, function)


def _syntax(exc: SyntaxError, text: str) -> ExpressionError:
    column = exc.offset or 0
    message = exc.msg or "syntax error"
    if "invalid syntax" in message and "=" in text and "==" not in text:
        message += " (use == to compare)"
    return ExpressionError(f"syntax error: {message}", column)


class _Translator:
    """Whitelisted source nodes -> target nodes that only call the helpers."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.nodes = 0

    @staticmethod
    def error(node: ast.AST, message: str) -> ExpressionError:
        return ExpressionError(message, getattr(node, "col_offset", -1) + 1)

    def translate(self, node: ast.expr, depth: int = 0) -> ast.expr:
        self.nodes += 1
        if self.nodes > defaults.FILTER_MAX_NODES:
            raise self.error(node, f"the expression has more than {defaults.FILTER_MAX_NODES} parts")
        if depth > defaults.FILTER_MAX_DEPTH:
            raise self.error(node, f"the expression is nested more than {defaults.FILTER_MAX_DEPTH} levels deep")
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            reason = _REFUSED.get(type(node), f"{type(node).__name__} is not supported in filters")
            raise self.error(node, reason)
        result: ast.expr = method(node, depth + 1)
        return result

    def call(self, helper: str, *args: ast.expr) -> ast.expr:
        return ast.Call(func=ast.Name(id=helper, ctx=ast.Load()), args=list(args), keywords=[])

    def visit_Constant(self, node: ast.Constant, depth: int) -> ast.expr:
        if node.value is Ellipsis or isinstance(node.value, (bytes, complex)):
            raise self.error(node, f"{type(node.value).__name__} literals are not supported")
        return ast.Constant(value=node.value)

    def visit_Name(self, node: ast.Name, depth: int) -> ast.expr:
        if node.id in LITERALS:
            return ast.Constant(value=LITERALS[node.id])
        if node.id in NAMES:
            return ast.Name(id=node.id, ctx=ast.Load())
        if node.id in FUNCTIONS or node.id == "exists":
            raise self.error(node, f"{node.id} is a function: write {node.id}(...)")
        raise self.error(node, f"unknown name {node.id!r}; an expression can read {', '.join(NAMES)}")

    def visit_Attribute(self, node: ast.Attribute, depth: int) -> ast.expr:
        if node.attr.startswith("__"):
            node.col_offset = (node.end_col_offset or 0) - len(node.attr)
            raise self.error(node, f"{node.attr!r} is not a field that can be read; write params[\"{node.attr}\"] "
                            "for a field of that name")
        return self.call("_get", self.translate(node.value, depth), ast.Constant(value=node.attr))

    def visit_Subscript(self, node: ast.Subscript, depth: int) -> ast.expr:
        return self.call("_item", self.translate(node.value, depth), self.translate(node.slice, depth))

    def visit_BoolOp(self, node: ast.BoolOp, depth: int) -> ast.expr:
        return ast.BoolOp(op=node.op, values=[self.translate(v, depth) for v in node.values])

    def visit_UnaryOp(self, node: ast.UnaryOp, depth: int) -> ast.expr:
        operand = self.translate(node.operand, depth)
        if isinstance(node.op, ast.Not):
            return ast.UnaryOp(op=ast.Not(), operand=operand)
        if isinstance(node.op, ast.USub):
            if isinstance(operand, ast.Constant) and isinstance(operand.value, (int, float)):
                return ast.Constant(value=-operand.value)
            return self.call("_neg", operand)
        if isinstance(node.op, ast.UAdd):
            return self.call("_pos", operand)
        raise self.error(node, "bitwise operators are not supported")

    def visit_BinOp(self, node: ast.BinOp, depth: int) -> ast.expr:
        helper = _BINARY.get(type(node.op))
        if helper is None:
            symbol = {ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&",
                      ast.BitXor: "^", ast.MatMult: "@"}.get(type(node.op), type(node.op).__name__)
            raise self.error(node, f"operator {symbol} is not supported")
        return self.call(helper, self.translate(node.left, depth), self.translate(node.right, depth))

    def visit_IfExp(self, node: ast.IfExp, depth: int) -> ast.expr:
        return ast.IfExp(test=self.translate(node.test, depth), body=self.translate(node.body, depth),
                         orelse=self.translate(node.orelse, depth))

    def visit_Compare(self, node: ast.Compare, depth: int) -> ast.expr:
        # a < b < c becomes (a < b) and (b < c); b is evaluated twice, which is
        # harmless because expressions have no side effects.
        pairs: list[ast.expr] = []
        left = self.translate(node.left, depth)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.translate(right_node, depth)
            if isinstance(op, (ast.Eq, ast.NotEq)):
                pairs.append(ast.Compare(left=left, ops=[type(op)()], comparators=[right]))
            elif type(op) in _COMPARE:
                if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, ast.Tuple):
                    right = self.constant_set(right)
                pairs.append(self.call(_COMPARE[type(op)], left, right))
            else:
                raise self.error(node, "`is` is not supported; use == or !=")
            left = right
        return pairs[0] if len(pairs) == 1 else ast.BoolOp(op=ast.And(), values=pairs)

    def constant_set(self, items: ast.Tuple) -> ast.expr:
        """`x in ["a", "b"]` with only literals: a frozenset, looked up in O(1)."""
        values = [e.value for e in items.elts if isinstance(e, ast.Constant)]
        if len(values) == len(items.elts) and all(_hashable(v) and type(v) is not float for v in values):
            return ast.Constant(value=frozenset(values))  # type: ignore[arg-type] # any object compiles
        return items

    def visit_List(self, node: ast.List, depth: int) -> ast.expr:
        return ast.Tuple(elts=[self.translate(e, depth) for e in node.elts], ctx=ast.Load())

    visit_Tuple = visit_List

    def visit_Set(self, node: ast.Set, depth: int) -> ast.expr:
        return ast.Tuple(elts=[self.translate(e, depth) for e in node.elts], ctx=ast.Load())

    def visit_Call(self, node: ast.Call, depth: int) -> ast.expr:
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                raise self.error(node, f"method calls are not supported; write {node.func.attr}(...) with the value as "
                                "the first argument")
            raise self.error(node, "only the built-in functions can be called")
        name = node.func.id
        if node.keywords:
            raise self.error(node, f"{name}() takes no keyword arguments")
        if name == "exists":
            if len(node.args) != 1:
                raise self.error(node, "exists() takes one field, e.g. exists(params.customer.email)")
            root, path = self.field_path(node.args[0])
            return self.call("_exists", ast.Name(id=root, ctx=ast.Load()),
                             ast.Constant(value=path))  # type: ignore[arg-type] # a tuple constant compiles
        if name not in FUNCTIONS:
            known = ", ".join([*FUNCTIONS, "exists"])
            raise self.error(node, f"unknown function {name!r}; the functions are {known}")
        _, arity = FUNCTIONS[name]
        if len(node.args) != arity:
            raise self.error(node, f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, got {len(node.args)}")
        return self.call(f"_fn_{name}", *(self.translate(a, depth) for a in node.args))

    def field_path(self, node: ast.expr) -> tuple[str, tuple[Any, ...]]:
        """params.a["b"][0] -> ("params", ("a", "b", 0)), for exists()."""
        parts: list[Any] = []
        while True:
            if isinstance(node, ast.Attribute):
                parts.append(node.attr)
                node = node.value
            elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                    and _hashable(node.slice.value):
                parts.append(node.slice.value)
                node = node.value
            elif isinstance(node, ast.Name) and node.id in ("params", "headers") and parts:
                return node.id, tuple(reversed(parts))
            else:
                raise self.error(node, "exists() takes a field such as params.customer.email or headers[\"trace-id\"]")
