"""Avro records in and out, with fastavro: a registered schema compiled once, records as JSON-friendly dicts.

fastavro's reader is C (Cython) and gives Python values: bytes, Decimal,
datetime, date, time and UUID for Avro's bytes, fixed and logical types.
Params must survive the JSON job serializer and read well in a filter or a
JSON Schema, so those become text, the way Avro's own JSON encoding and
JSON Schema's formats write them: bytes and fixed as base64, a decimal as
its exact digits ("12.50"), timestamps as ISO 8601 (`Z` for UTC: JSON
Schema's `date-time`), dates and times as ISO 8601 too, a UUID as its text.
A schema without any of those types (most) costs no conversion at all. The
other direction (`encode`, for the producer) reads the same text forms back,
guided by the schema. A route's reader schema resolves each record to the
schema the route expects (Avro's schema evolution): fields the writer did
not have get their default, fields the reader does not have are dropped.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from karafkad.clients.registry import extras
from karafkad.clients.registry.api import RegisteredSchema
from karafkad.clients.registry.wire import HEADER_BYTES, frame
from karafkad.errors import DecodeError

CONVERTED = frozenset({"bytes", "fixed", "logicalType"})
"""Schema words whose values fastavro gives as something JSON has no type for (see the module docstring)."""

_TIMESTAMPS = frozenset({"timestamp-millis", "timestamp-micros", "local-timestamp-millis", "local-timestamp-micros"})


def parse_schema(document: Any, named: dict[str, Any] | None = None) -> Any:
    """fastavro's parsed form of an Avro schema document; DecodeError with fastavro's reason if it is not one."""
    fastavro = extras.load("fastavro", "avro")
    try:
        return fastavro.parse_schema(document, named_schemas=named if named is not None else {})
    except Exception as exc:  # fastavro raises its own and builtin errors alike for a schema it cannot read
        raise DecodeError(f"not an Avro schema: {type(exc).__name__}: {exc}") from None


class AvroSchema:
    """One registered Avro schema, compiled: decodes framed records written with it, encodes data into them."""

    kind = "AVRO"

    def __init__(self, registered: RegisteredSchema, references: Sequence[tuple[str, RegisteredSchema]] = ()) -> None:
        self.schema_id = registered.schema_id or 0
        self.named: dict[str, Any] = {}
        try:
            documents = [json.loads(r.schema) for r in (*(ref for _, ref in references), registered)]
        except ValueError as exc:
            raise DecodeError(f"schema {self.schema_id} is not JSON: {exc}") from None
        for document in documents[:-1]:
            parse_schema(document, self.named)  # the referenced named types, for the schema to use by name
        self.parsed = parse_schema(documents[-1], self.named)
        self.plain = not any(_mentions(document, CONVERTED) for document in documents)
        """No value of it needs converting to JSON's types."""
        self._reader = extras.load("fastavro", "avro").schemaless_reader

    def decode(self, value: bytes, reader: Any = None, reader_plain: bool = True) -> Any:
        """The record of a framed value (its header already checked), as JSON-friendly data; resolved to
        `reader` (a parsed schema) when given. DecodeError says why it does not decode."""
        stream = io.BytesIO(value)
        stream.seek(HEADER_BYTES)
        try:
            record = self._reader(stream, self.parsed, reader)
        except Exception as exc:  # fastavro's reader raises EOFError, IndexError, its own errors...: all mean this
            raise DecodeError(f"does not decode as Avro with schema {self.schema_id}"
                              f"{' into the reader schema' if reader is not None else ''}: "
                              f"{type(exc).__name__}: {exc}") from None
        left = len(value) - stream.tell()
        if left:
            raise DecodeError(f"{left} bytes left over after the Avro record of schema {self.schema_id}: written "
                              "with another schema?")
        return record if self.plain and reader_plain else jsonable(record)

    def encode(self, data: Any) -> bytes:
        """`data` (JSON-friendly, as `decode` gives it) as a framed record; ValueError says what does not fit."""
        fastavro = extras.load("fastavro", "avro")
        from fastavro.validation import ValidationError, validate  # with fastavro: it is loaded now

        datum = from_jsonable(self.parsed, data, self.named)
        try:
            validate(datum, self.parsed, raise_errors=True)
        except ValidationError as exc:
            raise ValueError(f"does not fit Avro schema {self.schema_id}: {'; '.join(map(str, exc.errors))}") from None
        stream = io.BytesIO()
        fastavro.schemaless_writer(stream, self.parsed, datum)
        return frame(self.schema_id, stream.getvalue())


def reader_schema(document: Any) -> tuple[Any, bool]:
    """A route's reader schema, parsed, and whether it is plain (none of its values need converting)."""
    return parse_schema(document), not _mentions(document, CONVERTED)


def jsonable(value: Any) -> Any:
    """fastavro's values as JSON's: see the module docstring."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, UUID):
        return str(value)
    return value


def from_jsonable(schema: Any, value: Any, named: Mapping[str, Any]) -> Any:
    """`jsonable`'s text forms read back as the values fastavro writes, where the schema says so."""
    if isinstance(schema, str):
        if schema in ("bytes",) and isinstance(value, str):
            return _base64(value)
        return from_jsonable(named[schema], value, named) if schema in named else value
    if isinstance(schema, list):
        return _union(schema, value, named)
    kind = schema.get("type")
    if not isinstance(kind, str):
        return from_jsonable(kind, value, named)
    logical = schema.get("logicalType")
    if logical is not None and isinstance(value, str):
        return _logical(logical, value)
    if kind == "record" and isinstance(value, dict):
        fields = {field["name"]: field["type"] for field in schema["fields"]}
        return {key: from_jsonable(fields[key], item, named) if key in fields else item
                for key, item in value.items()}
    if kind == "array" and isinstance(value, list):
        return [from_jsonable(schema["items"], item, named) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: from_jsonable(schema["values"], item, named) for key, item in value.items()}
    if kind in ("bytes", "fixed") and isinstance(value, str):
        return _base64(value)
    return value


_PLAIN_TYPES: dict[str, tuple[type, ...]] = {
    "null": (type(None),), "boolean": (bool,), "int": (int,), "long": (int,), "float": (int, float),
    "double": (int, float), "string": (str,), "enum": (str,), "record": (dict,), "map": (dict,), "array": (list,),
}


def _union(branches: list[Any], value: Any, named: Mapping[str, Any]) -> Any:
    """A union's value: as it is when a branch takes it as it is (a string for a `string` branch), else read
    back for the first branch whose text form it is."""
    if value is None:
        return None
    resolved = [named.get(b, b) if isinstance(b, str) else b for b in branches]
    for branch in resolved:
        base = branch if isinstance(branch, str) else branch.get("type")
        if isinstance(base, str) and not (isinstance(branch, dict) and "logicalType" in branch) \
                and isinstance(value, _PLAIN_TYPES.get(base, ())) and not (base in ("int", "long") and
                                                                            isinstance(value, bool)):
            return from_jsonable(branch, value, named)
    for branch in resolved:
        try:
            converted = from_jsonable(branch, value, named)
        except (ValueError, TypeError):
            continue
        if converted is not value:
            return converted
    return value


def _logical(logical: str, text: str) -> Any:
    try:
        if logical in _TIMESTAMPS:
            return datetime.fromisoformat(text)
        if logical == "date":
            return date.fromisoformat(text)
        if logical in ("time-millis", "time-micros"):
            return time.fromisoformat(text)
        if logical == "decimal":
            return Decimal(text)
    except ArithmeticError as exc:  # decimal.InvalidOperation
        raise ValueError(f"{text[:40]!r} is not a decimal number") from exc
    return text


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ValueError(f"{text[:40]!r} is not base64 (bytes and fixed are base64 text): {exc}") from None


def _mentions(document: Any, words: frozenset[str]) -> bool:
    """Whether an Avro schema document uses any of `words` as a type or a key."""
    if isinstance(document, str):
        return document in words
    if isinstance(document, list):
        return any(_mentions(item, words) for item in document)
    if isinstance(document, dict):
        return any(key in words or _mentions(item, words) for key, item in document.items()
                   if key not in ("doc", "default", "name", "namespace", "aliases", "symbols"))
    return False
