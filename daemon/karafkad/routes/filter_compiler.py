"""The filter language: a small, safe expression language, compiled once at load.

An expression is parsed with Python's own parser (so operators and precedence
are familiar), then checked node by node against a whitelist. What passes is
translated into a new syntax tree in which every field access, comparison and
risky operator is a call to one of the small helpers below, and that tree is
compiled into a single plain function, which the pipeline calls directly (it
turns every failure into FilterRuntimeError itself). No source text written
by the operator is ever executed, no attribute of any Python object is
reachable (fields are dict lookups; the generated code's only attribute is
dict.get), and the only callables in scope are the helpers.

Names: params, key, headers, topic, partition, offset, timestamp; literals
true/false/null, numbers, strings and lists. Operators: == != < <= > >=,
in / not in, and / or / not, + - * / // %, `a if c else b`. Functions: len,
lower, upper, startswith, endswith, exists. A missing field is null; an
ordering comparison with null is false; other type errors raise
FilterRuntimeError, which the route's on_error policy handles.
The full reference, for people writing routes files, is docs/filters.md.
"""

from __future__ import annotations

import ast
import io
import tokenize
import warnings
from typing import Any

from karafkad import defaults
from karafkad.errors import ExpressionError
from karafkad.routes.filter_runtime import (
    FUNCTIONS,
    HELPERS,
    NAMES,
    WRAPPER_GLOBALS,
    Filter,
    FilterFunction,
    Ordering,
    hashable,
)
from karafkad.text import plural

LITERALS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}

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
    ast.Yield: "yield is not supported",
    ast.YieldFrom: "yield is not supported",
    ast.Starred: "* unpacking is not supported",
    ast.Dict: "mapping literals are not supported",
    ast.Slice: "slices are not supported",
}



def _function_tree(body: ast.expr) -> ast.Module:
    """def _filter(params, ...): try: return True if BODY else False, with errors made FilterRuntimeError.

    The try/except lives in the compiled function itself: a wrapper object's
    __call__ would cost more than most expressions do.
    """
    load = ast.Load()
    handlers = [
        ast.ExceptHandler(type=ast.Name(id="_FilterRuntimeError", ctx=load), name=None,
                          body=[ast.Raise(exc=None, cause=None)]),
        ast.ExceptHandler(type=ast.Name(id="_RUNTIME_ERRORS", ctx=load), name="exc", body=[ast.Raise(
            exc=ast.Call(func=ast.Name(id="_runtime_error", ctx=load), args=[ast.Name(id="exc", ctx=load)],
                         keywords=[]),
            cause=ast.Constant(value=None))]),
    ]
    result = ast.IfExp(test=body, body=ast.Constant(value=True), orelse=ast.Constant(value=False))
    function = ast.FunctionDef(
        name="_filter",
        args=ast.arguments(posonlyargs=[], args=[ast.arg(arg=n) for n in NAMES], kwonlyargs=[], kw_defaults=[],
                           defaults=[]),
        body=[ast.Try(body=[ast.Return(value=result)], handlers=handlers, orelse=[], finalbody=[])],
        decorator_list=[],
        returns=None,
    )
    module = ast.Module(body=[function], type_ignores=[])
    return ast.fix_missing_locations(module)


_SYMBOLS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def _params_path(node: ast.expr) -> tuple[str, ...] | None:
    """("a", "b") for `params.a.b` or `params["a"]["b"]`; None for anything else."""
    path: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            path.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and isinstance(node.slice.value, str):
            path.append(node.slice.value)
            node = node.value
        else:
            break
    return tuple(reversed(path)) if isinstance(node, ast.Name) and node.id == "params" else None


def _literal(node: ast.expr) -> tuple[Any] | None:
    """(value,) of a number or string literal (-5 too); None for anything else."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
        if not (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))):
            return None
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)) \
            and not isinstance(node.value, bool):
        return (node.value * sign if sign < 0 else node.value,)
    return None


def compile_filter(source: str) -> Filter:
    """Check and compile `source`; ExpressionError (with a column) when it is not allowed.

    Columns count characters of the expression with its lines joined by one
    space each (a YAML block scalar may span lines), starting at 1.
    """
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("the expression is empty")
    if len(source) > defaults.FILTER_MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(source)} characters long; at most "
                              f"{defaults.FILTER_MAX_LENGTH} are allowed")
    text = " ".join(source.splitlines())
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    try:
        with warnings.catch_warnings():
            # `1and 2` or "\d" parse with a SyntaxWarning on stderr; `karafkad check` prints problems, not those.
            warnings.simplefilter("ignore")
            tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        raise _syntax(exc, stripped, lead) from None
    except (MemoryError, RecursionError):
        raise ExpressionError("the expression is nested too deeply") from None
    except ValueError as exc:  # e.g. a lone surrogate, which the parser cannot encode
        raise ExpressionError(f"the expression cannot be read: {exc}") from None
    _refuse_comments(stripped, lead)
    translator = _Translator(stripped, lead)
    body = translator.translate(tree.body)
    try:
        code = compile(_function_tree(body), "<filter>", "exec")
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("the expression is nested too deeply") from None
    # The code was built by _Translator from whitelisted nodes only, and its
    # globals hold nothing but the helpers above: no builtins, no modules.
    namespace = {**HELPERS, **WRAPPER_GLOBALS}
    exec(code, namespace)  # noqa: S102
    function: FilterFunction = namespace["_filter"]
    return Filter(source, function, frozenset(translator.reads), tuple(translator.orderings))


def _syntax(exc: SyntaxError, text: str, lead: int) -> ExpressionError:
    column = exc.offset or 0
    message = exc.msg or "syntax error"
    if "invalid syntax" in message and "=" in text and "==" not in text:
        message += " (use == to compare)"
    return ExpressionError(f"syntax error: {message}", column + lead if column else 0)


def _refuse_comments(text: str, lead: int) -> None:
    """A `#` outside a string would silently end the expression once its lines are joined."""
    if "#" not in text:
        return
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                raise ExpressionError("comments (#) are not allowed inside a filter; put a YAML comment "
                                      "on the line before it", token.start[1] + 1 + lead)
    except (tokenize.TokenError, SyntaxError):  # already parsed, so only a tokenizer quirk; no comment found
        return


class _Translator:
    """Whitelisted source nodes -> target nodes that only call the helpers."""

    def __init__(self, source: str, lead: int = 0) -> None:
        self.source = source
        self.encoded = source.encode("utf-8", "surrogatepass")
        self.lead = lead
        self.nodes = 0
        self.temporaries = 0
        self.reads: set[str] = set()
        """The NAMES the expression reads."""
        self.orderings: list[Ordering] = []

    def column(self, node: ast.AST) -> int:
        """1-based character column of `node` in the expression."""
        offset = getattr(node, "col_offset", None)
        return 0 if offset is None else self.column_at(offset)

    def column_at(self, byte_offset: int) -> int:
        # ast counts UTF-8 bytes; a person counts characters.
        return len(self.encoded[:byte_offset].decode("utf-8", "ignore")) + 1 + self.lead

    def between(self, left: ast.expr, right: ast.expr, symbol: str) -> int:
        """Column of the operator `symbol` written between two operands (of `left` if not found)."""
        start, end = left.end_col_offset, right.col_offset
        if start is not None:
            found = self.encoded.find(symbol.encode(), start, end)
            if found >= 0:
                return self.column_at(found)
        return self.column(left)

    def error(self, node: ast.AST, message: str) -> ExpressionError:
        return ExpressionError(message, self.column(node))

    def count(self, node: ast.AST, depth: int) -> None:
        self.nodes += 1
        if self.nodes > defaults.FILTER_MAX_NODES:
            raise self.error(node, f"the expression has more than {defaults.FILTER_MAX_NODES} parts")
        if depth > defaults.FILTER_MAX_DEPTH:
            raise self.error(node, f"the expression is nested more than {defaults.FILTER_MAX_DEPTH} levels deep")

    def translate(self, node: ast.expr, depth: int = 0) -> ast.expr:
        self.count(node, depth)
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
            self.reads.add(node.id)
            return ast.Name(id=node.id, ctx=ast.Load())
        if node.id in FUNCTIONS or node.id == "exists":
            raise self.error(node, f"{node.id} is a function: write {node.id}(...)")
        raise self.error(node, f"unknown name {node.id!r}; an expression can read {', '.join(NAMES)}")

    def check_field(self, node: ast.Attribute) -> None:
        if node.attr.startswith("__"):
            end = node.end_col_offset
            column = self.column_at(end - len(node.attr.encode())) if end is not None else self.column(node)
            raise ExpressionError(f"{node.attr!r} is not a field that can be read; write "
                                  f"params[\"{node.attr}\"] for a field of that name", column)

    def visit_Attribute(self, node: ast.Attribute, depth: int) -> ast.expr:
        value = self.translate(node.value, depth)  # left to right: the first problem as read is reported
        self.check_field(node)
        if isinstance(value, ast.Name):
            # params.total, the commonest field access, inline (a third faster than calling _get):
            # params.get("total") if _type(params) is _dict else None
            load = ast.Load()
            is_dict = ast.Compare(left=ast.Call(func=ast.Name(id="_type", ctx=load), args=[value], keywords=[]),
                                  ops=[ast.Is()], comparators=[ast.Name(id="_dict", ctx=load)])
            get = ast.Call(func=ast.Attribute(value=value, attr="get", ctx=load),
                           args=[ast.Constant(value=node.attr)], keywords=[])
            return ast.IfExp(test=is_dict, body=get, orelse=ast.Constant(value=None))
        return self.call("_get", value, ast.Constant(value=node.attr))

    def visit_Subscript(self, node: ast.Subscript, depth: int) -> ast.expr:
        return self.call("_item", self.translate(node.value, depth), self.translate(node.slice, depth))

    def visit_BoolOp(self, node: ast.BoolOp, depth: int) -> ast.expr:
        return ast.BoolOp(op=node.op, values=[self.translate(v, depth) for v in node.values])

    def visit_UnaryOp(self, node: ast.UnaryOp, depth: int) -> ast.expr:
        operand = self.translate(node.operand, depth)
        if isinstance(node.op, ast.Not):
            return ast.UnaryOp(op=ast.Not(), operand=operand)
        if isinstance(node.op, ast.USub):
            if isinstance(operand, ast.Constant) and isinstance(operand.value, (int, float)) \
                    and not isinstance(operand.value, bool):
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
            raise ExpressionError(f"operator {symbol} is not supported", self.between(node.left, node.right, symbol))
        return self.call(helper, self.translate(node.left, depth), self.translate(node.right, depth))

    def visit_IfExp(self, node: ast.IfExp, depth: int) -> ast.expr:
        return ast.IfExp(test=self.translate(node.test, depth), body=self.translate(node.body, depth),
                         orelse=self.translate(node.orelse, depth))

    def visit_Compare(self, node: ast.Compare, depth: int) -> ast.expr:
        # a < b < c becomes (a < (_t1 := b)) and (_t1 < c): b is evaluated once,
        # as in Python. (Repeating b instead would double the code at every
        # level of `0 < (0 < (...) < 1) < 1`: exponential in a 200-character filter.)
        pairs: list[ast.expr] = []
        left = self.translate(node.left, depth)
        last = len(node.ops) - 1
        for i, (op, right_node) in enumerate(zip(node.ops, node.comparators, strict=True)):
            right = self.translate(right_node, depth)
            if i < last and not isinstance(right, (ast.Name, ast.Constant)):
                self.temporaries += 1
                name = f"_t{self.temporaries}"
                right = ast.NamedExpr(target=ast.Name(id=name, ctx=ast.Store()), value=right)
            if isinstance(op, (ast.Eq, ast.NotEq)):
                pairs.append(ast.Compare(left=left, ops=[type(op)()], comparators=[right]))
            elif isinstance(op, (ast.In, ast.NotIn)):
                literals = self.constant_set(right)
                if literals is not None:
                    helper = "_in_set" if isinstance(op, ast.In) else "_not_in_set"
                    pairs.append(self.call(helper, left, literals))
                else:
                    pairs.append(self.call(_COMPARE[type(op)], left, right))
            elif type(op) in _COMPARE:
                pairs.append(self.call(_COMPARE[type(op)], left, right))
                self.note_ordering(node.comparators[i - 1] if i else node.left, op, right_node)
            else:
                raise ExpressionError("`is` is not supported; use == or !=",
                                      self.between(node.comparators[i - 1] if i else node.left, right_node, "is"))
            left = ast.Name(id=right.target.id, ctx=ast.Load()) if isinstance(right, ast.NamedExpr) else right
        return pairs[0] if len(pairs) == 1 else ast.BoolOp(op=ast.And(), values=pairs)

    def note_ordering(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> None:
        """Remember `params.field < literal` (either way round) for the check against the route's schema."""
        symbol = _SYMBOLS.get(type(op))
        if symbol is None:
            return
        for field_node, literal_node in ((left, right), (right, left)):
            path, literal = _params_path(field_node), _literal(literal_node)
            if path and literal is not None:
                self.orderings.append(Ordering(path, literal[0], self.between(left, right, symbol), symbol))

    @staticmethod
    def constant_set(items: ast.expr) -> ast.expr | None:
        """A list of literals only (no floats, whose 1.0 == 1 hashing is a trap): a frozenset constant."""
        if not isinstance(items, ast.List):
            return None
        values = [e.value for e in items.elts if isinstance(e, ast.Constant)]
        if len(values) == len(items.elts) and all(hashable(v) and type(v) is not float for v in values):
            return ast.Constant(value=frozenset(values))  # type: ignore[arg-type] # any object compiles
        return None

    def visit_List(self, node: ast.List | ast.Tuple | ast.Set, depth: int) -> ast.expr:
        # Every list-like literal is a list, so `params.tags == ["a", "b"]` compares like with like.
        return ast.List(elts=[self.translate(e, depth) for e in node.elts], ctx=ast.Load())

    visit_Tuple = visit_List
    visit_Set = visit_List

    def visit_Call(self, node: ast.Call, depth: int) -> ast.expr:
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                self.translate(node.func.value, depth)  # report `__import__(...)` in `__import__(...).system()` first
                raise self.error(node, f"method calls are not supported; write {node.func.attr}(...) with the "
                                       "value as the first argument")
            reason = _REFUSED.get(type(node.func), "only the built-in functions can be called")
            raise self.error(node.func, reason)
        name = node.func.id
        if name not in FUNCTIONS and name != "exists":
            known = ", ".join([*FUNCTIONS, "exists"])
            raise self.error(node, f"unknown function {name!r}; the functions are {known}")
        if node.keywords:
            raise self.error(node, f"{name}() takes no keyword arguments")
        if name == "exists":
            if len(node.args) != 1:
                raise self.error(node, "exists() takes one field, e.g. exists(params.customer.email)")
            root, path = self.field_path(node.args[0], depth)
            return self.call("_exists", ast.Name(id=root, ctx=ast.Load()),
                             ast.Constant(value=path))  # type: ignore[arg-type] # a tuple constant compiles
        _, arity = FUNCTIONS[name]
        if len(node.args) != arity:
            raise self.error(node, f"{name}() takes {plural(arity, 'argument')}, got {len(node.args)}")
        return self.call(f"_fn_{name}", *(self.translate(a, depth) for a in node.args))

    def field_path(self, node: ast.expr, depth: int) -> tuple[str, tuple[Any, ...]]:
        """params.a["b"][0] -> ("params", ("a", "b", 0)), for exists()."""
        parts: list[Any] = []
        while True:
            self.count(node, depth)
            if isinstance(node, ast.Attribute):
                self.check_field(node)
                parts.append(node.attr)
                node = node.value
            elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                    and hashable(node.slice.value):
                parts.append(node.slice.value)
                node = node.value
            elif isinstance(node, ast.Name) and node.id in ("params", "headers") and parts:
                self.reads.add(node.id)
                return node.id, tuple(reversed(parts))
            else:
                raise self.error(node, "exists() takes a field such as params.customer.email or headers[\"trace-id\"]")
