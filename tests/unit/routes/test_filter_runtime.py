"""routes/filter_runtime.py: what the filter language's operators and functions do with JSON values at run time
(null, types that do not go together, text), and the Filter a compiled expression is.

The helpers are what compiled expressions call; most tests run an expression
(compiled by routes/filter_compiler.py, whose refusals are its own tests) on
a message, so they read as the language does.
"""

from __future__ import annotations

import pytest
from filter_cases import run

from karafkad.errors import FilterRuntimeError
from karafkad.routes.filter_runtime import NAMES, Filter, hashable, kind


class TestNullSemantics:
    """null (a missing field too) compares false, and passes through the functions."""

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


class TestOperators:
    """Comparisons, `in` and arithmetic on JSON values."""

    def test_comparisons(self) -> None:
        """== != < <= > >= on numbers and on strings."""
        assert run("params.total > 100 and params.total >= 250.5 and params.total < 251 and params.total <= 250.5")
        assert run('params.currency != "USD" and "EUR" < "USD"')

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


class TestFunctions:
    """len, lower, upper, startswith, endswith and exists."""

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


class TestRuntimeErrors:
    """A value a helper cannot handle is a FilterRuntimeError; whatever else, the answer is a bool."""

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

    def test_result_is_a_bool(self) -> None:
        """Whatever the expression evaluates to, the filter answers True or False."""
        assert run("params.items") is True
        assert run("params.nope") is False
        assert run("params.currency or 0") is True


class TestKind:
    """kind and hashable: a value in the words of the filter language."""

    @pytest.mark.parametrize(("value", "word"), [(None, "null"), ("a", "string"), (1, "number"), (1.5, "number"),
                                                 (True, "boolean"), ([1], "list"), ((1,), "list"),
                                                 (frozenset({1}), "list"), ({"a": 1}, "mapping"), (b"x", "bytes")])
    def test_each_json_type_has_its_word(self, value: object, word: str) -> None:
        """What an error message calls a value (a type outside JSON keeps its Python name)."""
        assert kind(value) == word

    def test_only_json_scalars_are_hashable(self) -> None:
        """null, text, numbers and booleans can be looked up in a literal list; lists and mappings cannot."""
        assert all(hashable(v) for v in (None, "a", 1, 1.5, False))
        assert not any(hashable(v) for v in ([1], {"a": 1}, (1,)))


class TestFilter:
    """Filter: a compiled expression, callable with defaults for the fields it does not read."""

    def test_calling_the_filter_passes_the_seven_names_in_order(self) -> None:
        """Filter(...)(params, key=...) calls its function with every NAME positionally, None for those not given."""
        seen: list[tuple[object, ...]] = []

        def function(*values: object) -> bool:
            seen.append(values)
            return True

        assert Filter("x", function)({"a": 1}, key="k", offset=7) is True
        assert seen == [({"a": 1}, "k", None, None, None, 7, None)]
        assert NAMES == ("params", "key", "headers", "topic", "partition", "offset", "timestamp")

    def test_a_filter_reads_every_name_unless_told(self) -> None:
        """Without `reads`, the pipeline builds the key text and header mapping for it (the safe default)."""
        assert Filter("x", lambda *values: True).reads == frozenset(NAMES)

    def test_a_runtime_error_of_the_function_is_the_filter_s(self) -> None:
        """What the function raises reaches the caller as is (a compiled one raises only FilterRuntimeError)."""
        def failing(*values: object) -> bool:
            raise FilterRuntimeError("TypeError: no")

        with pytest.raises(FilterRuntimeError, match="TypeError: no"):
            Filter("x", failing)({})
