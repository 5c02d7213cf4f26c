"""Fuzzing the filter compiler: whatever the text, ExpressionError at load or a bool / FilterRuntimeError per message.

tests/unit/routes/test_filter_compiler.py has property tests over the grammar as strings and over random text; here the
inputs are Python syntax trees of every expression node type (made with `ast`, printed with `ast.unparse`),
text from the whole of Unicode (surrogates, controls, line separators), mutations of real filters, and
hostile values to evaluate on: integers past 64 bits, NaN and infinities, bytes (a `decode: raw` route),
deep nesting, unusual keys and headers. Compilation and evaluation must never raise anything else, never
hang, and never change the message.

The suite runs 30 examples per test; for a long run set KARAFKAD_FUZZ_EXAMPLES (see docs/security.md). The
long runs so far (100,035 examples here, and atheris) found nothing in the compiler; a case a later run finds
goes into a TestRegressions class, as in test_fuzz_config.py.
"""

from __future__ import annotations

import ast
import math
import os
from typing import Any

from filter_cases import evaluate
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from karafkad import defaults
from karafkad.errors import ExpressionError
from karafkad.routes.filter_compiler import compile_filter
from karafkad.routes.filter_runtime import NAMES

EXAMPLES = int(os.environ.get("KARAFKAD_FUZZ_EXAMPLES", "30"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="KARAFKAD_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": [value]}
    return value


# --- values a filter may be evaluated on ---------------------------------------------------------------------------

leaf_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(2 ** 200), 2 ** 200), st.floats(),
    st.sampled_from([math.inf, -math.inf, math.nan, -0.0, 2 ** 63, -(2 ** 63) - 1, 10 ** 400, "", "\x00", "\udcff"]),
    st.text(max_size=12), st.binary(max_size=8),
)
json_like = st.recursive(leaf_values, lambda children: st.lists(children, max_size=4)
                         | st.dictionaries(st.sampled_from(["a", "b", "n", "total", "items", "get", "__class__",
                                                            "", "0", "\u2028"]), children, max_size=4),
                         max_leaves=15)
params_values = json_like | st.sampled_from([_deep(200), [[[[[]]]]], "x" * 10_000, b"\xff\xfe raw bytes"])
keys = st.none() | st.text(max_size=8) | st.binary(max_size=8)
headers = st.dictionaries(st.text(max_size=6), st.none() | st.text(max_size=8), max_size=3) | st.none()


# --- 1. syntax trees of every expression node type -------------------------------------------------------------

identifiers = st.sampled_from([*NAMES, "true", "null", "None", "x", "os", "eval", "__import__", "__builtins__",
                               "_get", "_type", "_dict", "_t1", "exc", "_FilterRuntimeError", "len", "exists",
                               "lower", "startswith", "getattr", "type", "self"])
attributes = st.sampled_from(["a", "total", "get", "keys", "__class__", "__globals__", "__code__", "mro",
                              "f_globals", "gi_frame", "_x", "__dict__", "format"])
constants = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-(2 ** 100), 2 ** 100), st.floats(),
                      st.text(max_size=8), st.binary(max_size=4), st.complex_numbers(allow_nan=False),
                      st.just(...)).map(lambda v: ast.Constant(value=v))
names = identifiers.map(lambda n: ast.Name(id=n, ctx=ast.Load()))
operators = st.sampled_from([ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift,
                             ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.MatMult])
comparisons = st.sampled_from([ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In,
                               ast.NotIn])
unary = st.sampled_from([ast.Not, ast.USub, ast.UAdd, ast.Invert])


def _node(children: st.SearchStrategy[ast.expr]) -> st.SearchStrategy[ast.expr]:
    some = st.lists(children, max_size=3)
    generators = st.builds(lambda target, it, ifs: [ast.comprehension(target=ast.Name(id=target, ctx=ast.Store()),
                                                                      iter=it, ifs=ifs, is_async=0)],
                           st.sampled_from(["x", "params", "_t1"]), children, st.lists(children, max_size=1))
    return st.one_of(
        st.builds(lambda op, values: ast.BoolOp(op=op(), values=values), st.sampled_from([ast.And, ast.Or]),
                  st.lists(children, min_size=2, max_size=3)),
        st.builds(lambda a, op, b: ast.BinOp(left=a, op=op(), right=b), children, operators, children),
        st.builds(lambda op, a: ast.UnaryOp(op=op(), operand=a), unary, children),
        st.builds(lambda a, b, c: ast.IfExp(test=a, body=b, orelse=c), children, children, children),
        st.builds(lambda a, ops, cs: ast.Compare(left=a, ops=[o() for o in ops[:len(cs)]], comparators=cs[:len(ops)]),
                  children, st.lists(comparisons, min_size=1, max_size=3), st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda f, args, kw: ast.Call(func=f, args=args, keywords=[ast.keyword(arg="k", value=v) for v in kw]),
                  names | children, some, st.lists(children, max_size=1)),
        st.builds(lambda v, a: ast.Attribute(value=v, attr=a, ctx=ast.Load()), children, attributes),
        st.builds(lambda v, i: ast.Subscript(value=v, slice=i, ctx=ast.Load()), children,
                  children | st.builds(lambda a, b: ast.Slice(lower=a, upper=b), children, children)),
        st.builds(lambda elts: ast.List(elts=elts, ctx=ast.Load()), some),
        st.builds(lambda elts: ast.Tuple(elts=elts, ctx=ast.Load()), some),
        st.builds(lambda elts: ast.Set(elts=elts), st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda k, v: ast.Dict(keys=k, values=v[:len(k)] + [ast.Constant(1)] * (len(k) - len(v))),
                  some, some),
        st.builds(lambda body: ast.Lambda(args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[],
                                                             kw_defaults=[], defaults=[]), body=body), children),
        st.builds(lambda e, g: ast.ListComp(elt=e, generators=g), children, generators),
        st.builds(lambda e, g: ast.GeneratorExp(elt=e, generators=g), children, generators),
        st.builds(lambda v: ast.NamedExpr(target=ast.Name(id="_t1", ctx=ast.Store()), value=v), children),
        st.builds(lambda v: ast.Starred(value=v, ctx=ast.Load()), children).map(
            lambda s: ast.List(elts=[s], ctx=ast.Load())),
        st.builds(lambda v: ast.JoinedStr(values=[ast.FormattedValue(value=v, conversion=-1, format_spec=None)]),
                  children),
        st.builds(lambda v: ast.Await(value=v), children),
        st.builds(lambda v: ast.Yield(value=v), children),
    )


trees = st.recursive(constants | names, _node, max_leaves=30)


@st.composite
def tree_sources(draw: st.DrawFn) -> str:
    tree = draw(trees)
    try:
        source = ast.unparse(ast.fix_missing_locations(ast.Expression(body=tree)))
    except Exception:  # an impossible tree (ast.unparse's own limits): print a simpler one
        source = ast.unparse(ast.Expression(body=ast.Constant(value=1)))
    return source


class TestSyntaxTrees:
    @FUZZ
    @given(source=tree_sources(), params=params_values, key=keys, header_values=headers)
    def test_trees_of_every_node_type(self, source: str, params: Any, key: Any, header_values: Any) -> None:
        """Any Python expression tree, printed as source: refused with ExpressionError, or a clean filter."""
        evaluate(source, params, key, header_values)

    @FUZZ
    @given(source=tree_sources())
    def test_compiled_code_reaches_no_builtins_and_no_dunders(self, source: str) -> None:
        """Whatever compiles names only helpers and dict.get, and has no builtins in its globals."""
        try:
            compiled = compile_filter(source)
        except ExpressionError:
            return
        function = compiled.function
        assert function.__globals__["__builtins__"] == {}
        for code in (function.__code__, *(c for c in function.__code__.co_consts if hasattr(c, "co_names"))):
            for name in code.co_names:
                assert name == "get" or (name.startswith("_") and not name.startswith("__")), name


# --- 2. text from all of Unicode ------------------------------------------------------------------------------------

any_character = st.characters(codec=None, categories=None)
unicode_text = st.text(alphabet=any_character, max_size=80)
near_the_limit = st.integers(defaults.FILTER_MAX_LENGTH - 3, defaults.FILTER_MAX_LENGTH + 3).flatmap(
    lambda n: st.sampled_from(["1", "(", "params.a + ", "\u2028", "'x'"]).map(lambda unit: (unit * n)[:n]))


class TestUnicodeText:
    @FUZZ
    @given(source=unicode_text, params=params_values)
    @example(source="\ud800", params=None)
    @example(source="params.a\x00", params={})
    @example(source="1 if\u2028params.a\u2028else 0", params={"a": 1})
    @example(source="'''\n'''", params=None)
    def test_any_unicode_text(self, source: str, params: Any) -> None:
        """Lone surrogates, NULs, control characters and every line separator: clean answers only."""
        evaluate(source, params)

    @FUZZ
    @given(source=near_the_limit)
    def test_text_at_the_length_limit(self, source: str) -> None:
        """Expressions just under and over FILTER_MAX_LENGTH (deep nesting, long sums) are handled."""
        evaluate(source, {"a": 1})


# --- 3. mutations of real filters ------------------------------------------------------------------------------------

FILTERS = [
    'params.total > 0 and params.currency in ["EUR", "USD"]',
    "params.total >= 1000 and not exists(params.test)",
    'not startswith(params, "#")',
    '(params.kind == "a") or (params.kind == "b")',
    'len(params.items) > 2 and lower(headers["x-source"]) == "web"',
    "0 < params.n < 10 if exists(params.n) else key == 'k'",
    'endswith(topic, ".v2") and partition % 2 == 0 and offset // 10 != -1',
    "params['a'][0]['b'] * 2 + 1.5 - params.c / 3 >= timestamp",
]
tokens = st.sampled_from([
    *"()[]{}.,:'\"+-*/%<>=!~&|^@#\\ \n\t", "and", "or", "not", "in", "is", "if", "else", "lambda", "for",
    "params", "__class__", "exists(", "len(",
    "1e308", "9" * 30, "0x", "\\x00", "'''", "**", "//", ":=", "...", "\u2028", "\x85"])


@st.composite
def mutated_filters(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(FILTERS))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "splice", "repeat"]))
        if kind == "insert":
            text = text[:at] + draw(tokens) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 6)):]
        elif kind == "replace":
            text = text[:at] + draw(tokens) + text[at + 1:]
        elif kind == "splice":
            other = draw(st.sampled_from(FILTERS))
            start = draw(st.integers(0, len(other)))
            text = text[:at] + other[start:start + draw(st.integers(1, 20))] + text[at:]
        else:
            text = text[:at] * draw(st.integers(1, 4)) + text[at:]
    return text


class TestMutatedFilters:
    @FUZZ
    @given(source=mutated_filters(), params=params_values, key=keys, header_values=headers)
    def test_edits_of_real_filters(self, source: str, params: Any, key: Any, header_values: Any) -> None:
        """Inserted, deleted, replaced and spliced text in working filters: clean answers only."""
        evaluate(source, params, key, header_values)

    @FUZZ
    @given(params=params_values, key=keys, header_values=headers)
    def test_real_filters_on_hostile_values(self, params: Any, key: Any, header_values: Any) -> None:
        """The working filters themselves, on integers past 64 bits, NaN, bytes, deep nesting, odd headers."""
        for source in FILTERS:
            evaluate(source, params, key, header_values)
