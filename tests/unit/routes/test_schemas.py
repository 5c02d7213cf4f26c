"""Message schemas: read once from a file or inline, compiled for the right draft, offline only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from karafkad import defaults
from karafkad.errors import SchemaError
from karafkad.routes.schemas import compile_schema, load_schema

ORDER = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer", "minimum": 1},
                                                              "customer": {"type": "object",
                                                                           "required": ["email"]}}}


def schema_error(schema: Any, origin: Path | None = None) -> str:
    """The SchemaError compiling `schema` gives."""
    with pytest.raises(SchemaError) as info:
        compile_schema(schema, origin)
    return str(info.value)


class TestLoadSchema:
    def test_inline_schema_is_used_as_is(self, tmp_path: Path) -> None:
        """A mapping (or boolean) is the schema itself, with no file."""
        assert load_schema(ORDER, tmp_path) == (ORDER, None)
        assert load_schema(True, tmp_path) == (True, None)

    def test_json_file_relative_to_the_routes_file(self, tmp_path: Path) -> None:
        """A file name is read relative to the routes file's folder."""
        (tmp_path / "schemas").mkdir()
        (tmp_path / "schemas" / "order.json").write_text(json.dumps(ORDER))
        assert load_schema("schemas/order.json", tmp_path) == (ORDER, (tmp_path / "schemas" / "order.json").resolve())

    def test_yaml_file(self, tmp_path: Path) -> None:
        """A .yaml schema is read with the same safe YAML reader."""
        (tmp_path / "order.yaml").write_text("type: object\nrequired: [id]\n")
        assert load_schema("order.yaml", tmp_path)[0] == {"type": "object", "required": ["id"]}

    def test_yaml_file_with_a_tag_is_refused(self, tmp_path: Path) -> None:
        """The YAML reader's refusals apply to schema files too."""
        (tmp_path / "order.yaml").write_text("type: !!python/name:os.system\n")
        with pytest.raises(SchemaError, match="is not allowed"):
            load_schema("order.yaml", tmp_path)

    def test_empty_yaml_file(self, tmp_path: Path) -> None:
        """An empty schema file says a schema was expected."""
        (tmp_path / "order.yaml").write_text("")
        with pytest.raises(SchemaError, match="expected a JSON Schema"):
            load_schema("order.yaml", tmp_path)

    def test_missing_file(self, tmp_path: Path) -> None:
        """A file that does not exist is named with its full path."""
        with pytest.raises(SchemaError, match=f"schema file {tmp_path / 'nope.json'} does not exist"):
            load_schema("nope.json", tmp_path)

    def test_invalid_json_names_line_and_column(self, tmp_path: Path) -> None:
        """A JSON syntax error points into the schema file."""
        (tmp_path / "s.json").write_text('{\n  "type": "object",\n}\n')
        with pytest.raises(SchemaError, match=r"s\.json:3:1: not valid JSON"):
            load_schema("s.json", tmp_path)

    def test_not_utf8(self, tmp_path: Path) -> None:
        """A binary file is refused with the reason."""
        (tmp_path / "s.json").write_bytes(b"\xff\xfe{}")
        with pytest.raises(SchemaError, match="cannot read schema file"):
            load_schema("s.json", tmp_path)

    def test_directory(self, tmp_path: Path) -> None:
        """A folder is not a schema file."""
        (tmp_path / "schemas").mkdir()
        with pytest.raises(SchemaError, match="cannot read schema file"):
            load_schema("schemas", tmp_path)

    def test_too_big(self, tmp_path: Path) -> None:
        """A file above SCHEMA_FILE_MAX_BYTES is refused unread."""
        path = tmp_path / "big.json"
        with path.open("wb") as handle:
            handle.truncate(defaults.SCHEMA_FILE_MAX_BYTES + 1)
        with pytest.raises(SchemaError, match="a schema file may be at most"):
            load_schema("big.json", tmp_path)


class TestCompileSchema:
    def test_validate_returns_none_or_a_reason_naming_the_field(self) -> None:
        """Valid params give None; invalid ones a one-line reason with the field's path."""
        validate = compile_schema(ORDER)
        assert validate({"id": 3}) is None
        assert validate({"id": 0}).startswith("/id: 0 is less than the minimum of 1")  # type: ignore[union-attr]
        assert validate({"id": 1, "customer": {}}) == '/customer: "email" is a required property'
        assert validate([1]) == '(root): [1] is not of type "object"'

    def test_boolean_schemas(self) -> None:
        """true accepts everything, false nothing."""
        assert compile_schema(True)({"any": 1}) is None
        assert compile_schema(False)({}) is not None

    def test_not_a_mapping(self) -> None:
        """A schema must be a mapping or a boolean."""
        assert "a schema must be a mapping (or true/false), not list" in schema_error([1])

    def test_draft_2020_12_by_default(self) -> None:
        """Without $schema, 2020-12 rules apply: `items` must be one schema, prefixItems exists."""
        assert "not a valid JSON Schema" in schema_error({"items": [{"type": "integer"}]})
        validate = compile_schema({"prefixItems": [{"type": "integer"}]})
        assert validate([1, "x"]) is None
        assert validate(["x"]) is not None

    @pytest.mark.parametrize("uri", ["http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-07/schema",
                                     "https://json-schema.org/draft-07/schema#"])
    def test_draft_taken_from_dollar_schema(self, uri: str) -> None:
        """$schema picks the draft, with or without the final # and in http or https."""
        validate = compile_schema({"$schema": uri, "items": [{"type": "integer"}]})
        assert validate([1, "x"]) is None
        assert validate(["x"]) is not None

    def test_draft_4_exclusive_maximum(self) -> None:
        """Draft 4's boolean exclusiveMaximum is understood when $schema says draft-04."""
        validate = compile_schema({"$schema": "http://json-schema.org/draft-04/schema#", "maximum": 10,
                                   "exclusiveMaximum": True})
        assert validate(9) is None
        assert validate(10) is not None

    def test_unknown_draft(self) -> None:
        """An unknown $schema is an error listing the known drafts."""
        message = schema_error({"$schema": "http://json-schema.org/draft-03/schema#"})
        assert "unknown $schema 'http://json-schema.org/draft-03/schema'; known drafts:" in message

    def test_non_string_dollar_schema(self) -> None:
        """$schema must be text."""
        assert "$schema must be a string" in schema_error({"$schema": 7})

    @pytest.mark.parametrize(("schema", "message"), [
        ({"type": "strin"}, "at /type: 'strin' is not a JSON Schema type (array, boolean, integer"),
        ({"properties": {"a": {"type": 12}}}, "at /properties/a/type: 12 is not a JSON Schema type"),
        ({"required": "id"}, 'at /required: "id" is not of type "array"'),
        ({"properties": {"n": {"minimum": "3"}}}, 'at /properties/n/minimum: "3" is not of type "number"'),
        ({"pattern": "(("}, 'at /pattern: "((" is not a "regex"'),
        ({"$ref": "#/$defs/missing"}, "/$defs/missing"),
    ])
    def test_invalid_schema_names_where(self, schema: dict[str, Any], message: str) -> None:
        """An invalid schema is refused at load, saying where in the schema the mistake is."""
        assert message in schema_error(schema)


class TestReferences:
    def test_local_reference_beside_the_schema_is_followed(self, tmp_path: Path) -> None:
        """$ref to a file in the schema's folder (spaces in the path included) is resolved."""
        folder = tmp_path / "my schemas"
        folder.mkdir()
        (folder / "id.json").write_text('{"type": "integer"}')
        (folder / "order.json").write_text('{"properties": {"id": {"$ref": "id.json"}}}')
        schema, origin = load_schema("my schemas/order.json", tmp_path)
        validate = compile_schema(schema, origin)
        assert validate({"id": 1}) is None
        assert validate({"id": "x"}) is not None

    def test_remote_reference_is_never_fetched(self, tmp_path: Path) -> None:
        """A URL $ref is refused at load: a schema never makes the daemon fetch anything."""
        (tmp_path / "s.json").write_text('{"$ref": "https://example.com/order.json"}')
        schema, origin = load_schema("s.json", tmp_path)
        message = schema_error(schema, origin)
        assert "https://example.com/order.json: only references to files beside the schema are followed" in message

    def test_reference_outside_the_folder_is_refused(self, tmp_path: Path) -> None:
        """../ out of the schema's folder is refused."""
        (tmp_path / "secret.json").write_text('{"type": "integer"}')
        (tmp_path / "schemas").mkdir()
        (tmp_path / "schemas" / "s.json").write_text('{"$ref": "../secret.json"}')
        schema, origin = load_schema("schemas/s.json", tmp_path)
        assert "outside the schema's folder" in schema_error(schema, origin)

    def test_inline_schema_cannot_reference_files(self) -> None:
        """An inline schema has no folder, so no file reference is followed."""
        assert "only references to files beside the schema" in schema_error({"$ref": "file:///etc/passwd"})


class TestExampleSchema:
    def test_example_order_schema(self) -> None:
        """config/schemas/order.json compiles and checks the demo's orders."""
        folder = Path(__file__).resolve().parents[3] / "config"
        validate = compile_schema(*load_schema("schemas/order.json", folder))
        order = {"id": 1, "customer": {"email": "a@b.c"}, "total": 10, "currency": "EUR"}
        assert validate(order) is None
        assert validate({**order, "currency": "euro"}) is not None
