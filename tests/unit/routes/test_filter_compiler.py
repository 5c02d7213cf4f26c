"""The filter language: what it means, what it refuses, and that nothing it accepts can escape."""

from __future__ import annotations

import ast
import copy
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from karafkad import defaults
from karafkad.errors import ExpressionError, FilterRuntimeError
from karafkad.routes.filter_compiler import compile_filter
from karafkad.routes.filter_runtime import MAX_INT_BITS, NAMES, Filter

ORDER = {"id": 7, "total": 250.5, "currency": "EUR", "customer": {"email": "ann@example.com", "vip": True},
         "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}], "tags": ["new", "gift"], "note": None}


_ORDER = object()


def run(source: str, params: Any = _ORDER, **fields: Any) -> bool:
    """Compile `source` and evaluate it on one message (by default a copy of ORDER)."""
    return compile_filter(source)(copy.deepcopy(ORDER) if params is _ORDER else params, **fields)


def refused(source: str) -> ExpressionError:
    """The ExpressionError `source` is refused with."""
    with pytest.raises(ExpressionError) as info:
        compile_filter(source)
    return info.value


class TestFields:
    def test_attribute_and_subscript_read_the_same_field(self) -> None:
        """params.total and params["total"] both read the payload's `total`."""
        assert run("params.total == 250.5")
        assert run('params["total"] == 250.5')

    def test_nested_fields_and_list_indexes(self) -> None:
        """Fields nest, lists index from either end, out-of-range is null."""
        assert run('params.customer.email == "ann@example.com"')
        assert run('params.items[0].sku == "A-1" and params.items[-1].qty == 1')
        assert run("params.items[5] == null and params.items[-9] == null")

    def test_missing_field_is_null(self) -> None:
        """A field that is not there reads as null instead of failing."""
        assert run("params.nope == null")
        assert run("params.nope.deeper.still == null")
        assert run("params.total.cents == null")

    def test_fields_of_non_mappings_are_null(self) -> None:
        """Reading a field of a string, number or list gives null, never a Python attribute."""
        assert run("params.currency.upper == null")
        assert run("params.tags.append == null")
        assert run("key.strip == null", key="k")

    def test_the_metadata_names(self) -> None:
        """key, headers, topic, partition, offset and timestamp are readable."""
        assert run('key == "order-7" and headers["trace-id"] == "t1" and topic == "orders"',
                   key="order-7", headers={"trace-id": "t1"}, topic="orders")
        assert run("partition == 2 and offset > 100 and timestamp >= 0", partition=2, offset=101, timestamp=0)
        assert run("headers.missing == null", headers={})

    def test_params_may_be_any_decoded_value(self) -> None:
        """A text route's params is a string; a raw route's may be bytes; fields of them are null."""
        assert run('startswith(params, "#")', params="# comment")
        assert run("params.x == null", params=b"\x00raw")
        assert run("params == null", params=None)


class TestReads:
    @pytest.mark.parametrize(("source", "reads"), [
        ('params.total > 10 and params.currency == "EUR"', {"params"}),
        ('exists(headers["trace-id"])', {"headers"}),
        ('key == "k" or offset > 3', {"key", "offset"}),
        ("true", set()),
        ('lower(params.currency) in ["eur"] and timestamp > 0 and topic != partition', {"params", "timestamp",
                                                                                         "topic", "partition"}),
    ])
    def test_a_filter_says_which_names_it_reads(self, source: str, reads: set[str]) -> None:
        """The pipeline makes a message's key text and header mapping only for a filter that reads them."""
        assert compile_filter(source).reads == reads


class TestLiterals:
    def test_booleans_and_null_in_both_spellings(self) -> None:
        """true/false/null and Python's True/False/None are the same literals."""
        assert run("true and not false and null == None and True != False")

    def test_numbers_and_strings(self) -> None:
        """Integers, floats, negative numbers and both quote styles."""
        assert run("-3 < 0.5 and 1e3 == 1000 and 'a' == \"a\"")

    def test_list_literals_compare_with_lists(self) -> None:
        """A list literal equals a payload list with the same items (tuples and sets are lists too)."""
        assert run('params.tags == ["new", "gift"]')
        assert run('params.tags == ("new", "gift")')
        assert not run('params.tags == ["gift", "new"]')

    def test_mapping_literals_are_refused(self) -> None:
        """{...} mappings are not part of the language."""
        assert "mapping literals" in refused("{'a': 1} == params").message


class TestOperators:
    def test_comparisons(self) -> None:
        """== != < <= > >= on numbers and on strings."""
        assert run("params.total > 100 and params.total >= 250.5 and params.total < 251 and params.total <= 250.5")
        assert run('params.currency != "USD" and "EUR" < "USD"')

    def test_chained_comparisons(self) -> None:
        """a < b < c means a < b and b < c, as in Python."""
        assert run("100 < params.total < 300")
        assert not run("100 < params.total < 200")
        assert run("1 == params.id - 6 == 1")

    def test_chained_comparison_evaluates_the_middle_once(self) -> None:
        """The middle term is computed once, so nesting chains does not double the code per level."""
        source = "params.total"
        for _ in range(30):
            source = f"0 < ({source}) < 1e9"
        compiled = compile_filter(source)
        assert len(compiled.function.__code__.co_code) < 40 * len(source)
        assert compiled(ORDER) is True

    def test_boolean_operators(self) -> None:
        """and / or / not, short-circuiting."""
        assert run("params.total > 1 and (params.currency == 'USD' or not params.customer.vip == false)")
        assert run("true or 1 / 0")
        assert not run("false and 1 / 0")

    def test_in_on_list_string_and_mapping(self) -> None:
        """`in` tests list items, substrings, and mapping keys."""
        assert run('"gift" in params.tags and "x" not in params.tags')
        assert run('"E" in params.currency and "eur" not in params.currency')
        assert run('"email" in params.customer and "phone" not in params.customer')
        assert run('params.currency in ["EUR", "USD"] and params.currency not in ["GBP"]')

    def test_in_with_null_or_unhashable_values(self) -> None:
        """Nothing is in null; a list or mapping is in no list of literals."""
        assert not run('"x" in params.nope')
        assert not run('params.items in ["a", "b"]')
        assert run('params.customer not in [1, 2]')
        assert not run("params.tags in params.customer")

    def test_arithmetic(self) -> None:
        """+ - * / // % on numbers, + on strings, with Python's precedence."""
        assert run("params.total * 2 - 1 == 500 and params.id // 2 == 3 and params.id % 4 == 3")
        assert run("params.id / 2 == 3.5 and -params.id == -7 and +params.id == 7")
        assert run('params.currency + "!" == "EUR!"')

    def test_conditional_expression(self) -> None:
        """`a if c else b` picks one branch."""
        assert run('(params.total if params.currency == "EUR" else 0) > 100')


class TestNullSemantics:
    def test_ordering_with_null_is_false(self) -> None:
        """Every ordering comparison with null is false, so `not (x > 1)` is true for a missing x."""
        for op in ("<", "<=", ">", ">="):
            assert not run(f"params.nope {op} 1")
            assert not run(f"1 {op} params.nope")
        assert run("not (params.nope > 1)")

    def test_equality_with_null(self) -> None:
        """null equals only null."""
        assert run("params.note == null and params.nope == null and params.id != null")

    def test_functions_of_null(self) -> None:
        """len/lower/upper of null are null; startswith/endswith of null are false."""
        assert run("len(params.nope) == null and lower(params.nope) == null and upper(params.nope) == null")
        assert not run('startswith(params.nope, "a") or endswith(params.nope, "a")')
        assert not run("startswith(params.currency, params.nope)")


class TestFunctions:
    def test_len(self) -> None:
        """len() of a string, list or mapping."""
        assert run("len(params.currency) == 3 and len(params.items) == 2 and len(params.customer) == 2")

    def test_case_functions(self) -> None:
        """lower() and upper()."""
        assert run('lower(params.currency) == "eur" and upper("a") == "A"')

    def test_prefix_and_suffix(self) -> None:
        """startswith() and endswith()."""
        assert run('startswith(params.customer.email, "ann@") and endswith(params.customer.email, ".com")')

    def test_exists(self) -> None:
        """exists() tells a field set to null from a field that is not there."""
        assert run('exists(params.note) and not exists(params.nope) and exists(params["customer"].email)')
        assert run("exists(params.items[1].sku) and not exists(params.items[2])")
        assert run('exists(headers["trace-id"])', headers={"trace-id": None})

    def test_exists_needs_a_field(self) -> None:
        """exists() takes a field path from params or headers, nothing else."""
        assert "takes a field" in refused("exists(1)").message
        assert "takes a field" in refused("exists(params)").message
        assert "takes one field" in refused("exists(params.a, params.b)").message

    def test_wrong_arity_and_keywords(self) -> None:
        """Functions are checked for their number of arguments, and take no keywords."""
        assert "takes 2 arguments, got 1" in refused("startswith(params.a)").message
        assert "no keyword arguments" in refused("len(x=params.a)").message

    def test_a_function_name_alone_is_an_error(self) -> None:
        """A function named without parentheses says how to call it."""
        assert "write len(...)" in refused("len").message


class TestRuntimeErrors:
    @pytest.mark.parametrize("source", [
        'params.currency > 1',            # string vs number
        'params.currency + 1',            # + mixes types
        'params.tags * 2',                # * on a list
        '"a" * 3',                        # * on a string
        'params.id / 0',                  # division by zero
        'params.id % 0',
        'len(params.id)',                 # len of a number
        'lower(params.id)',               # lower of a number
        '1 in params.currency',           # number in a string
        '"x" in params.id',               # `in` a number
        'params.items < params.customer', # list vs mapping
        'params.total > params.tags',     # number vs list
    ])
    def test_type_errors_raise_filter_runtime_error(self, source: str) -> None:
        """A type mismatch on one message is a FilterRuntimeError, which the route's on_error handles."""
        with pytest.raises(FilterRuntimeError):
            run(source)

    def test_the_compiled_function_raises_only_filter_runtime_error(self) -> None:
        """The function the pipeline calls converts every failure itself (no wrapper needed)."""
        function = compile_filter("params.a / params.b").function
        with pytest.raises(FilterRuntimeError, match="ZeroDivisionError"):
            function({"a": 1, "b": 0}, None, None, None, None, None, None)
        assert function({"a": 1, "b": 2}, None, None, None, None, None, None) is True

    def test_result_is_a_bool(self) -> None:
        """Whatever the expression evaluates to, the filter answers True or False."""
        assert run("params.items") is True
        assert run("params.nope") is False
        assert run("params.currency or 0") is True


class TestHostileExpressions:
    @pytest.mark.parametrize(("source", "message", "column"), [
        ("__import__('os')", "unknown function '__import__'", 1),
        ("__import__('os').system('id')", "unknown function '__import__'", 1),
        ("().__class__.__bases__", "'__class__' is not a field", 4),
        ("params.__class__", "'__class__' is not a field", 8),
        ("params.__class__.__mro__[1].__subclasses__()", "'__class__' is not a field", 8),
        ("params.get('x')", "method calls are not supported", 1),
        ("params['__class__'] == 1 and params.__dict__", "'__dict__' is not a field", 37),
        ("exists(params.__globals__)", "'__globals__' is not a field", 15),
        ("(lambda: 1)()", "lambdas are not supported", 2),
        ("lambda: params", "lambdas are not supported", 1),
        ("[x for x in params.items]", "comprehensions are not supported", 1),
        ("{x for x in params.items}", "comprehensions are not supported", 1),
        ("any(x for x in params.items)", "unknown function 'any'", 1),
        ("9**9**9", "operator ** is not supported", 2),
        ("'a'*10**9", "operator ** is not supported", 7),
        ("1 << 100000", "operator << is not supported", 3),
        ("~params.id", "bitwise operators are not supported", 1),
        ("params.id | 1", "operator | is not supported", 11),
        ("(params.id) @ (1)", "operator @ is not supported", 13),
        ("params.currency.lower()", "method calls are not supported", 1),
        ("'{}'.format(params)", "method calls are not supported", 1),
        ("(y := 1)", "assignment (:=) is not supported", 2),
        ("f'{params}'", "f-strings are not supported", 1),
        ("params[1:3]", "slices are not supported", 8),
        ("[*params.items]", "* unpacking is not supported", 2),
        ("b'abc' == key", "bytes literals are not supported", 1),
        ("1j == 1", "complex literals are not supported", 1),
        ("getattr(params, 'x')", "unknown function 'getattr'", 1),
        ("eval('1')", "unknown function 'eval'", 1),
        ("open('/etc/passwd')", "unknown function 'open'", 1),
        ("_get(params, 'x')", "unknown function '_get'", 1),
        ("_fn_len", "unknown name '_fn_len'", 1),
        ("__builtins__", "unknown name '__builtins__'", 1),
        ("params is None", "`is` is not supported", 8),
        ("1 < params is not None", "`is` is not supported", 12),
        ("await params", "await is not supported", 1),
        ("yield", "syntax error", 1),
        ("params.x = 1", "use == to compare", 10),
        ("import os", "syntax error", 1),
        ("params.a == 1; params.b", "syntax error", 14),
    ])
    def test_refused_at_load_with_a_column(self, source: str, message: str, column: int) -> None:
        """Nothing outside the language compiles; the error names what and where (1-based column)."""
        error = refused(source)
        assert message in error.message
        assert error.column == column

    def test_multiplication_cannot_build_a_huge_integer(self) -> None:
        """`*` refuses to build an integer above MAX_INT_BITS, whatever the payload holds."""
        source = " * ".join(["params.big"] * 20) + " > 0"
        with pytest.raises(FilterRuntimeError, match="bits"):
            run(source, params={"big": 10 ** 4000})
        assert run("params.big * params.big > 0", params={"big": 2 ** (MAX_INT_BITS // 2 - 1)})

    def test_strings_cannot_grow_past_the_limit(self) -> None:
        """`+` on strings stops at FILTER_MAX_STRING characters."""
        half = "x" * (defaults.FILTER_MAX_STRING // 2 + 1)
        with pytest.raises(FilterRuntimeError, match="too long"):
            run("len(params.s + params.s) > 0", params={"s": half})

    def test_string_repetition_is_refused_at_run_time(self) -> None:
        """'a' * n is a type error (strings do not multiply), never a gigabyte."""
        with pytest.raises(FilterRuntimeError, match="needs numbers"):
            run("'a' * params.n == ''", params={"n": 10 ** 9})

    def test_float_overflow_is_a_runtime_error(self) -> None:
        """A huge integer divided or mixed with a float fails on that message only."""
        with pytest.raises(FilterRuntimeError, match="OverflowError"):
            run("params.big / 3 > 0", params={"big": 10 ** 400})

    def test_very_long_expression(self) -> None:
        """Expressions above FILTER_MAX_LENGTH characters are refused before parsing."""
        source = " or ".join(f"params.n == {i}" for i in range(300))
        assert len(source) > defaults.FILTER_MAX_LENGTH
        assert "characters long" in refused(source).message

    def test_too_many_parts(self) -> None:
        """Expressions of more than FILTER_MAX_NODES syntax nodes are refused."""
        source = "[" + ",".join(["1"] * 600) + "]"
        assert len(source) < defaults.FILTER_MAX_LENGTH
        assert "more than 500 parts" in refused(source).message

    @pytest.mark.parametrize("source", [
        "-" * 1999 + "1",
        "not " * 450 + "true",
        "(" * 250 + "1" + ")" * 250,
        "[" * 150 + "]" * 150,
        "params" + ".a" * 900,
        "len(" * 300 + "1" + ")" * 300,
        "0 if " * 300 + "1" + " else 0" * 300,
    ])
    def test_deeply_nested_input(self, source: str) -> None:
        """Deep nesting is refused at load (depth limit or the parser's own), never a crash."""
        assert len(source) <= defaults.FILTER_MAX_LENGTH or "characters long" in refused(source).message
        refused(source)

    @pytest.mark.parametrize("source", ["", "   ", "\n"])
    def test_empty_expression(self, source: str) -> None:
        """An empty filter is an error, not a filter that passes everything."""
        assert "empty" in refused(source).message

    def test_a_comment_cannot_hide_the_rest_of_a_multi_line_filter(self) -> None:
        """`#` outside a string is refused: joined into one line, it would silently drop what follows."""
        error = refused("params.total > 1  # big ones\nand params.currency == 'EUR'")
        assert "comments (#)" in error.message
        assert error.column == 19
        assert run("'#' in params.currency or params.note == null")

    def test_non_ascii_columns_count_characters(self) -> None:
        """Columns count characters, not UTF-8 bytes."""
        assert refused('params.prénom == "é" and __x').column == 26


class TestCompiledCode:
    def test_only_helpers_and_dict_get_are_reachable(self) -> None:
        """The compiled code names nothing but the helpers, the seven NAMES and dict.get."""
        compiled = compile_filter('params.a.b > 1 and lower(key) in ["x"] and exists(headers.h) and 1 < offset < 3')
        code = compiled.function.__code__
        assert set(code.co_varnames) <= {*NAMES, "exc", "_t1"}
        for name in code.co_names:
            assert name == "get" or name.startswith("_"), name
        assert compiled.function.__globals__["__builtins__"] == {}

    def test_a_filter_keeps_its_source(self) -> None:
        """Filter.source is the text as written."""
        assert compile_filter("params.a\n  == 1").source == "params.a\n  == 1"

    def test_block_scalars_may_span_lines(self) -> None:
        """Line breaks inside an expression are spaces."""
        assert run("params.total > 1\nand\nparams.currency == 'EUR'")


# --- property-based: random text and random grammar trees -----------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from("abcxyz"), children,
                                                                      max_size=4),
    max_leaves=12,
)
params_values = st.dictionaries(st.sampled_from(["a", "b", "c", "total", "items", "__class__"]), json_values,
                                max_size=6) | json_values

field_names = st.sampled_from(["a", "b", "c", "total", "items", "get", "keys", "_x", "__class__", "__dict__"])
leaves = st.one_of(
    st.sampled_from([*NAMES, "true", "false", "null", "None", "os", "__import__", "_get", "exc", "_t1"]),
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=6).map(repr),
)


def _grow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "<<", "|", "@"])
    compare = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is"])
    function = st.sampled_from(["len", "lower", "upper", "startswith", "endswith", "exists", "eval", "getattr"])
    return st.one_of(
        st.tuples(children, binary, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, compare, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, compare, children, compare, children).map(lambda t: f"({' '.join(t)})"),
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["not ", "-", "+", "~"]), children).map(lambda t: f"({t[0]}{t[1]})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(children, field_names).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(function, st.lists(children, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.lists(children, max_size=3).map(lambda items: f"[{', '.join(items)}]"),
        st.tuples(children, field_names).map(lambda t: f"{t[0]}.{t[1]}()"),
        children.map(lambda c: f"(lambda: {c})"),
        children.map(lambda c: f"[x for x in {c}]"),
        children.map(lambda c: f"(_t1 := {c})"),
    )


grammar_expressions = st.recursive(leaves, _grow, max_leaves=25)
random_text = st.lists(st.sampled_from([*"params.key[]()'\"0123456789 +-*/%<>=!&|~^_,:;#@{}\\\n",
                                        "and ", "or ", "not ", "in ", "len", "__class__", "lambda ", "if ",
                                        " else "]), max_size=40).map("".join) | st.text(max_size=60)


def _evaluate_without_side_effects(source: str, params: Any, headers: dict[str, Any]) -> None:
    """Compile; if it compiles, evaluate: only ExpressionError / FilterRuntimeError, and nothing changes."""
    try:
        compiled = compile_filter(source)
    except ExpressionError as exc:
        assert exc.column >= 0
        return
    assert isinstance(compiled, Filter)
    before_params, before_headers = copy.deepcopy(params), copy.deepcopy(headers)
    try:
        result = compiled.function(params, "k", headers, "orders", 0, 42, 1700000000000)
    except FilterRuntimeError:
        pass
    else:
        assert result is True or result is False
    assert _same(params, before_params)
    assert _same(headers, before_headers)


def _same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to itself (the payloads may hold NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestProperties:
    @FAST
    @given(source=grammar_expressions, params=params_values)
    def test_grammar_trees_compile_or_fail_cleanly_and_have_no_side_effects(self, source: str,
                                                                           params: Any) -> None:
        """Random trees of the grammar (and of refused constructs) either fail to compile with
        ExpressionError, or evaluate to a bool or FilterRuntimeError and change nothing."""
        _evaluate_without_side_effects(source, params, {"trace-id": "t", "h": None})

    @FAST
    @given(source=random_text, params=params_values)
    def test_random_text_compiles_or_fails_cleanly(self, source: str, params: Any) -> None:
        """Random text never escapes ExpressionError at load or FilterRuntimeError at run time."""
        _evaluate_without_side_effects(source, params, {})

    @FAST
    @given(source=grammar_expressions)
    def test_compiled_code_reaches_only_helpers(self, source: str) -> None:
        """Whatever compiles references only helper globals and dict.get, and has no builtins."""
        try:
            compiled = compile_filter(source)
        except ExpressionError:
            return
        code = compiled.function.__code__
        for name in code.co_names:
            assert name == "get" or name.startswith("_"), name
        assert all(not name.startswith("__") for name in code.co_names)

    @FAST
    @given(source=grammar_expressions)
    def test_python_agrees_on_what_parses(self, source: str) -> None:
        """Whatever compiles is a single Python expression: the language is a subset of its syntax."""
        try:
            compile_filter(source)
        except ExpressionError:
            return
        ast.parse(" ".join(source.splitlines()).strip(), mode="eval")
