"""Compile a route's message JSON Schema once, with the fastest validator at hand.

jsonschema-rs validates ~100x faster than a prebuilt `jsonschema` validator
on this kind of payload (see the README's figures). References are resolved
offline only, from files beside the schema: a schema must never make the
daemon fetch a URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema_rs

from karafkad import defaults

Validate = Callable[[Any], str | None]
"""validate(params) -> None when valid, else a one-line reason naming the field."""

_DRAFTS = {
    "https://json-schema.org/draft/2020-12/schema": jsonschema_rs.Draft202012Validator,
    "https://json-schema.org/draft/2019-09/schema": jsonschema_rs.Draft201909Validator,
    "http://json-schema.org/draft-07/schema": jsonschema_rs.Draft7Validator,
    "http://json-schema.org/draft-06/schema": jsonschema_rs.Draft6Validator,
    "http://json-schema.org/draft-04/schema": jsonschema_rs.Draft4Validator,
}


class SchemaError(ValueError):
    """A message schema that cannot be read or is not a valid JSON Schema."""


def load_schema(spec: str | Mapping[str, Any] | bool, base_dir: Path) -> tuple[Any, Path | None]:
    """The schema document for a route's `schema:` value (a file name or the schema itself)."""
    if not isinstance(spec, str):
        return spec, None
    path = (base_dir / spec).resolve()
    try:
        size = path.stat().st_size
        if size > defaults.SCHEMA_FILE_MAX_BYTES:
            raise SchemaError(f"{path} is {size} bytes; a schema file may be at most "
                              f"{defaults.SCHEMA_FILE_MAX_BYTES} bytes")
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise SchemaError(f"schema file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"cannot read schema file {path}: {exc}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            from karafkad.yamlfile import load_bytes

            return load_bytes(text.encode(), str(path), {}).data, path
        return json.loads(text), path
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except Exception as exc:  # ConfigError from the YAML reader, already with a line
        raise SchemaError(f"{path}: {exc}") from None


def compile_schema(schema: Any, origin: Path | None = None) -> Validate:
    """A validate(params) function for `schema`; SchemaError when the schema is invalid."""
    if isinstance(schema, bool):
        schema = {} if schema else {"not": {}}
    if not isinstance(schema, dict):
        raise SchemaError(f"a schema must be a mapping (or true/false), not {type(schema).__name__}")
    draft = str(schema.get("$schema", "")).rstrip("#")
    validator_class = _DRAFTS.get(draft, jsonschema_rs.Draft202012Validator)
    if draft and draft not in _DRAFTS:
        raise SchemaError(f"unknown $schema {draft!r}; known drafts: {', '.join(_DRAFTS)}")
    base_dir = origin.parent if origin else None
    try:
        validator = validator_class(schema, validate_formats=True, retriever=_local_retriever(base_dir),
                                    base_uri=origin.as_uri() if origin else None)
    except Exception as exc:  # jsonschema-rs raises ValueError / ReferencingError with a message
        raise SchemaError(f"not a valid JSON Schema: {_first_line(exc)}") from None

    def validate(params: Any) -> str | None:
        try:
            if validator.is_valid(params):
                return None
            error = next(iter(validator.iter_errors(params)))
        except (ValueError, OverflowError, RecursionError) as exc:
            return f"cannot be validated: {_first_line(exc)}"
        where = "/".join(str(p) for p in error.instance_path)
        return f"{'/' + where if where else '(root)'}: {error.message}"

    return validate


def _local_retriever(base_dir: Path | None) -> Callable[[str], Any]:
    def retrieve(uri: str) -> Any:
        if base_dir is None or not uri.startswith("file://"):
            raise ValueError(f"{uri}: only references to files beside the schema are followed")
        path = Path(uri.removeprefix("file://")).resolve()
        if not path.is_relative_to(base_dir):
            raise ValueError(f"{uri}: outside the schema's folder")
        return json.loads(path.read_text("utf-8"))

    return retrieve


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
