"""routes/filter_types.py: a filter's comparisons that the route's schema makes fail for every message."""

from __future__ import annotations

from typing import Any

import pytest

from karafkad.routes.filter_compiler import compile_filter
from karafkad.routes.filter_types import declared_types, mismatches

SCHEMA = {"type": "object", "properties": {
    "amount": {"type": "number"}, "count": {"type": "integer"}, "name": {"type": ["string", "null"]},
    "paid": {"type": "boolean"}, "meta": {"properties": {"n": {"type": "integer"}}},
    "either": {"type": ["number", "string"]}, "ref": {"$ref": "#/$defs/x"}, "loose": {}}}


def found(expression: str, schema: Any = SCHEMA) -> list[tuple[int, str]]:
    return list(mismatches(compile_filter(expression).orderings, schema))


class TestMismatches:
    """mismatches: a filter's orderings that the route's schema makes fail for every message."""

    @pytest.mark.parametrize(("expression", "column"), [
        ('params.amount > "zero"', 15), ('"zero" < params.amount', 8), ('params["count"] >= "3"', 17),
        ("params.name <= 3", 13), ("params.meta.n > 'x'", 15), ("1 < params.name", 3),
        ('params.paid > 1', 13)])
    def test_a_comparison_the_schema_makes_fail_for_every_message_is_found_at_its_operator(
            self, expression: str, column: int) -> None:
        """A field of one type ordered against a literal of another, either way round, is found at the operator's
        column."""
        [(at, message)] = found(expression)
        assert at == column
        assert "fails for every message (cannot compare" in message

    def test_the_message_names_the_field_its_type_and_the_literal_as_written(self) -> None:
        """The field, its type in the schema, the comparison with the literal as written, and why it fails."""
        [(_, message)] = found('params.amount > "zero"')
        assert message == ("params.amount is number in the route's schema, so `> \"zero\"` fails for every message "
                           "(cannot compare number with string)")

    @pytest.mark.parametrize("expression", [
        "params.amount > 5", "params.amount >= -1.5", "params.count < 2.5", 'params.name > "m"', "params.either > 1",
        'params.either > "a"', 'params.ref > "x"', "params.loose > 1", 'params.other > "x"',
        "params.amount > params.count", 'params.amount == "5"', 'key > "a"', 'params.meta > "x"'])
    def test_what_the_schema_allows_or_does_not_say_is_not_judged(self, expression: str) -> None:
        """Numbers with numbers, a type list that allows the literal, a field behind $ref or without a type, a field
        the schema does not name, two fields, equality (which is merely false), the key."""
        assert found(expression) == []

    @pytest.mark.parametrize("schema", [None, True, {"type": "object"}, {"properties": {"amount": True}}])
    def test_a_schema_that_says_nothing_of_the_field_judges_nothing(self, schema: Any) -> None:
        """No schema, `true`, an object without properties, or a field schema of `true`: nothing is found."""
        assert found('params.amount > "zero"', schema) == []


class TestDeclaredTypes:
    def test_declared_types_follow_properties_only(self) -> None:
        """Types are read from nested `properties` with a `type`; a field without one, or below a typed leaf, is
        unknown (None)."""
        assert declared_types(SCHEMA, ("meta", "n")) == frozenset({"integer"})
        assert declared_types(SCHEMA, ("name",)) == frozenset({"string", "null"})
        assert declared_types(SCHEMA, ("meta",)) is None
        assert declared_types(SCHEMA, ("amount", "cents")) is None
