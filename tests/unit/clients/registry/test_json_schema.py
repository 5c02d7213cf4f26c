"""JSON records framed with a registered JSON Schema: checked against it, encoded after it."""

from __future__ import annotations

import json

import pytest

from karafkad.clients.registry.api import RegisteredSchema
from karafkad.clients.registry.json_schema import JsonSchema
from karafkad.errors import DecodeError

ITEM = {"type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}}}
ORDER = {"type": "object", "required": ["n", "item"],
         "properties": {"n": {"type": "integer"}, "item": {"$ref": "item.json"}}}


def order() -> JsonSchema:
    return JsonSchema(RegisteredSchema(json.dumps(ORDER), "JSON", schema_id=6),
                      [("item.json", RegisteredSchema(json.dumps(ITEM), "JSON"))])


class TestJsonSchema:
    def test_a_record_breaking_the_schema_says_where(self) -> None:
        """The reference to another subject is followed; the problem names the field."""
        assert order().problem({"n": 1, "item": {"sku": "a"}}) is None
        assert order().problem({"n": 1, "item": {"sku": 5}}) == '/item/sku: 5 is not of type "string"'

    def test_encode_frames_valid_data_and_refuses_the_rest(self) -> None:
        """The header, then compact JSON."""
        assert order().encode({"n": 1, "item": {"sku": "a"}}) == b'\x00\x00\x00\x00\x06{"n":1,"item":{"sku":"a"}}'
        with pytest.raises(ValueError, match="does not fit JSON Schema 6"):
            order().encode({"n": "one"})

    def test_a_reference_outside_the_registry_is_never_fetched(self) -> None:
        """A $ref to a URL is refused when the schema is compiled."""
        with pytest.raises(DecodeError, match="JSON Schema 7 cannot be used"):
            JsonSchema(RegisteredSchema(json.dumps({"$ref": "https://example.com/x.json"}), "JSON", schema_id=7))
