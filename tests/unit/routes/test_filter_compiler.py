"""routes/filter_compiler.py: the filter language as it compiles: what it reads, what it refuses (with a column),
and that nothing it accepts can escape (what its operators do with values at run time is
tests/unit/routes/test_filter_runtime.py's)."""

from __future__ import annotations

import ast
from typing import Any

import pytest
from filter_cases import ORDER, evaluate, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from karafkad import defaults
from karafkad.errors import ExpressionError, FilterRuntimeError
from karafkad.routes.filter_compiler import compile_filter
from karafkad.routes.filter_runtime import MAX_INT_BITS, NAMES


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

    def test_conditional_expression(self) -> None:
        """`a if c else b` picks one branch."""
        assert run('(params.total if params.currency == "EUR" else 0) > 100')


class TestFunctions:
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
    def test_the_compiled_function_raises_only_filter_runtime_error(self) -> None:
        """The function the pipeline calls converts every failure itself (no wrapper needed)."""
        function = compile_filter("params.a / params.b").function
        with pytest.raises(FilterRuntimeError, match="ZeroDivisionError"):
            function({"a": 1, "b": 0}, None, None, None, None, None, None)
        assert function({"a": 1, "b": 2}, None, None, None, None, None, None) is True


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


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestProperties:
    @FAST
    @given(source=grammar_expressions, params=params_values)
    def test_grammar_trees_compile_or_fail_cleanly_and_have_no_side_effects(self, source: str,
                                                                           params: Any) -> None:
        """Random trees of the grammar (and of refused constructs) either fail to compile with
        ExpressionError, or evaluate to a bool or FilterRuntimeError and change nothing."""
        evaluate(source, params, header_values={"trace-id": "t", "h": None})

    @FAST
    @given(source=random_text, params=params_values)
    def test_random_text_compiles_or_fails_cleanly(self, source: str, params: Any) -> None:
        """Random text never escapes ExpressionError at load or FilterRuntimeError at run time."""
        evaluate(source, params, header_values={})

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
