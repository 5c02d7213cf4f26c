"""Avro records decoded into JSON's types (and back), resolved to a reader schema, refused with a reason."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import fastavro
import pytest

from karafkad.clients.registry.api import RegisteredSchema
from karafkad.clients.registry.avro import AvroSchema, jsonable, reader_schema
from karafkad.clients.registry.wire import frame
from karafkad.errors import DecodeError

PLAIN = {"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "n", "type": "long"}, {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "note", "type": ["null", "string"], "default": None}]}
TYPED = {"type": "record", "name": "Payment", "fields": [
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
    {"name": "blob", "type": "bytes"},
    {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "maybe", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}], "default": None}]}


def schema(document: dict[str, Any], schema_id: int = 7) -> AvroSchema:
    return AvroSchema(RegisteredSchema(json.dumps(document), "AVRO", schema_id=schema_id))


def written(document: dict[str, Any], record: dict[str, Any], schema_id: int = 7) -> bytes:
    """A record as a producer's serializer writes it (fastavro's writer, framed)."""
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(document), record)
    return frame(schema_id, out.getvalue())


class TestDecode:
    def test_a_plain_schema_gives_the_record_as_written(self) -> None:
        """Records, arrays, strings, longs and unions come out as they went in."""
        record = {"n": 5, "tags": ["a", "b"], "note": None}
        assert schema(PLAIN).decode(written(PLAIN, record)) == record

    def test_logical_types_and_bytes_become_json_text(self) -> None:
        """Timestamps as ISO 8601 with Z, dates ISO, decimals their exact digits, bytes base64, a UUID its text."""
        record = {"at": datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=UTC), "day": date(2026, 1, 2),
                  "amount": Decimal("12.50"), "blob": b"\x00\xff", "id": "0c4a8b9e-8f8c-4a53-9d6e-8b1a62c0d3a1",
                  "maybe": datetime(2026, 1, 2, tzinfo=UTC)}
        assert schema(TYPED).decode(written(TYPED, record)) == {
            "at": "2026-01-02T03:04:05.250000Z", "day": "2026-01-02", "amount": "12.50", "blob": "AP8=",
            "id": "0c4a8b9e-8f8c-4a53-9d6e-8b1a62c0d3a1", "maybe": "2026-01-02T00:00:00Z"}

    def test_a_cut_record_is_a_decode_error_naming_the_schema(self) -> None:
        """A record shorter than its schema says does not decode."""
        value = written(PLAIN, {"n": 5, "tags": ["abc"], "note": "x"})
        with pytest.raises(DecodeError, match="does not decode as Avro with schema 7"):
            schema(PLAIN).decode(value[:-3])

    def test_bytes_left_over_are_refused(self) -> None:
        """A record followed by more bytes was written with another schema."""
        with pytest.raises(DecodeError, match="2 bytes left over after the Avro record of schema 7"):
            schema(PLAIN).decode(written(PLAIN, {"n": 1, "tags": [], "note": None}) + b"\x02\x04")


class TestReaderSchema:
    def test_an_older_record_gets_the_new_fields_default(self) -> None:
        """Avro's evolution: a field added with a default is filled in for records written without it."""
        newer = {**PLAIN, "fields": [*PLAIN["fields"], {"name": "channel", "type": "string", "default": "web"}]}
        parsed, plain = reader_schema(newer)
        decoded = schema(PLAIN).decode(written(PLAIN, {"n": 1, "tags": [], "note": None}), parsed, plain)
        assert decoded == {"n": 1, "tags": [], "note": None, "channel": "web"}

    def test_a_reader_the_writer_cannot_resolve_to_is_a_decode_error(self) -> None:
        """A reader schema whose field has another type and no default: the record does not decode into it."""
        other, plain = reader_schema({"type": "record", "name": "Order", "namespace": "shop",
                                      "fields": [{"name": "n", "type": "string"}]})
        with pytest.raises(DecodeError, match="into the reader schema"):
            schema(PLAIN).decode(written(PLAIN, {"n": 1, "tags": [], "note": None}), other, plain)

    def test_a_document_that_is_no_avro_schema_is_refused(self) -> None:
        """An unknown type is named."""
        with pytest.raises(DecodeError, match="not an Avro schema"):
            reader_schema({"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]})


class TestEncode:
    def test_json_text_forms_are_read_back_as_the_schema_says(self) -> None:
        """What decode gives, encode takes: the record round-trips through its JSON form."""
        typed = schema(TYPED)
        data = {"at": "2026-01-02T03:04:05.250000Z", "day": "2026-01-02", "amount": "12.50", "blob": "AP8=",
                "id": "0c4a8b9e-8f8c-4a53-9d6e-8b1a62c0d3a1", "maybe": None}
        assert typed.decode(typed.encode(data)) == data

    def test_data_that_does_not_fit_is_a_value_error_naming_the_field(self) -> None:
        """A string for a long is refused before anything is written."""
        with pytest.raises(ValueError, match=r"does not fit Avro schema 7: .*shop\.Order\.n"):
            schema(PLAIN).encode({"n": "five", "tags": [], "note": None})

    def test_a_union_keeps_a_string_for_its_string_branch(self) -> None:
        """In ["null", "string", "bytes"] a string stays a string (it is not taken for base64)."""
        union = {"type": "record", "name": "U", "fields": [{"name": "v", "type": ["null", "string", "bytes"]}]}
        assert schema(union).decode(schema(union).encode({"v": "AP8="})) == {"v": "AP8="}


class TestJsonable:
    def test_nested_values_are_converted_where_they_are(self) -> None:
        """Inside maps and arrays too."""
        assert jsonable({"a": [b"\x01", {"d": Decimal("1E+2")}]}) == {"a": ["AQ==", {"d": "100"}]}
