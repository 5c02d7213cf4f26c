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
from urllib.parse import unquote, urlsplit

import jsonschema_rs

from karafkad import defaults
from karafkad.config.yamlfile import load_bytes
from karafkad.errors import SchemaError

Validate = Callable[[Any], str | None]
"""validate(params) -> None when valid, else a one-line reason naming the field."""

_DRAFTS = {
    "https://json-schema.org/draft/2020-12/schema": jsonschema_rs.Draft202012Validator,
    "https://json-schema.org/draft/2019-09/schema": jsonschema_rs.Draft201909Validator,
    "http://json-schema.org/draft-07/schema": jsonschema_rs.Draft7Validator,
    "http://json-schema.org/draft-06/schema": jsonschema_rs.Draft6Validator,
    "http://json-schema.org/draft-04/schema": jsonschema_rs.Draft4Validator,
}



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
            return load_bytes(text.encode(), str(path), {}, expected="a JSON Schema").data, path
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
    validator_class = _draft(schema.get("$schema"))
    base_dir = origin.parent if origin else None
    try:
        validator = validator_class(schema, validate_formats=True, retriever=_local_retriever(base_dir),
                                    base_uri=origin.as_uri() if origin else None)
    except Exception as exc:  # jsonschema-rs raises ValidationError / ReferencingError with a message
        raise SchemaError(f"not a valid JSON Schema: {_schema_complaint(exc)}") from None

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


def _draft(declared: Any) -> Any:
    """The validator class for a `$schema` value (http or https, with or without the final #)."""
    if declared is None:
        return jsonschema_rs.Draft202012Validator
    if not isinstance(declared, str):
        raise SchemaError(f"$schema must be a string such as {next(iter(_DRAFTS))!r}")
    uri = declared.rstrip("#")
    for known, validator_class in _DRAFTS.items():
        if uri.split("://", 1)[-1] == known.split("://", 1)[-1]:
            return validator_class
    raise SchemaError(f"unknown $schema {uri!r}; known drafts: {', '.join(_DRAFTS)}")


_TYPES = "array, boolean, integer, null, number, object, string"


def _schema_complaint(exc: BaseException) -> str:
    """jsonschema-rs's complaint about a schema, with where in the schema it is."""
    message = _first_line(exc)
    if "retrieving it failed: " in message:  # a $ref: say why it was not followed, once
        message = message.split("retrieving it failed: ", 1)[1].removeprefix("ValueError: ")
    path = list(getattr(exc, "instance_path", None) or ())
    if path and path[-1] == "type" and "anyOf" in message:
        instance = getattr(exc, "instance", None)
        message = f"{instance!r} is not a JSON Schema type ({_TYPES})"
    return f"at {'/' + '/'.join(str(p) for p in path)}: {message}" if path else message


def _local_retriever(base_dir: Path | None) -> Callable[[str], Any]:
    def retrieve(uri: str) -> Any:
        if base_dir is None or not uri.startswith("file://"):
            raise ValueError(f"{uri}: only references to files beside the schema are followed")
        path = Path(unquote(urlsplit(uri).path)).resolve()
        if not path.is_relative_to(base_dir):
            raise ValueError(f"{uri}: outside the schema's folder")
        if path.stat().st_size > defaults.SCHEMA_FILE_MAX_BYTES:
            raise ValueError(f"{path} is larger than {defaults.SCHEMA_FILE_MAX_BYTES} bytes")
        return json.loads(path.read_text("utf-8"))

    return retrieve


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
