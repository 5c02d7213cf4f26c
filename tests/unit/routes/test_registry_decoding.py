"""The registry decode modes: a record's own fault is a DecodeError with the reason; an unfetched schema never is."""

from __future__ import annotations

import json
from typing import Any

import pytest

from karafkad.clients.kafka.types import TopicPartition
from karafkad.clients.registry.api import RegisteredSchema
from karafkad.clients.registry.avro import reader_schema
from karafkad.clients.registry.store import SchemaStore
from karafkad.errors import DecodeError, RegistryUnavailable
from karafkad.pipeline.records import PlainRecord
from karafkad.routes.registry_decoding import batch_schema_ids, registry_decoder, schema_ids

ORDER = {"type": "record", "name": "Order", "fields": [{"name": "n", "type": "long"}]}
SCHEMAS = {1: RegisteredSchema(json.dumps(ORDER), "AVRO", schema_id=1),
           2: RegisteredSchema(json.dumps({"type": "object", "required": ["n"]}), "JSON", schema_id=2)}


class Registry:
    """Ids 1 (Avro Order) and 2 (a JSON Schema requiring n); any other id is unknown."""

    def describe(self) -> str:
        return "http://registry"

    def schema(self, schema_id: int) -> RegisteredSchema | None:
        return SCHEMAS.get(schema_id)


def fetched(*ids: int) -> SchemaStore:
    store = SchemaStore(Registry())  # type: ignore[arg-type]  # the fake answers what fetch asks
    store.fetch(ids)
    return store


AVRO_N7 = b"\x00\x00\x00\x00\x01\x0e"  # id 1, then the long 7 (zigzag)


class TestAvro:
    def test_a_framed_record_decodes_with_its_schema(self) -> None:
        """An Avro record after the header decodes with the writer schema of its id."""
        assert registry_decoder("avro", fetched(1))(AVRO_N7) == {"n": 7}

    def test_a_reader_schema_resolves_each_record(self) -> None:
        """A field the writer lacked gets the reader's default."""
        reader = reader_schema({**ORDER, "fields": [*ORDER["fields"], {"name": "c", "type": "string",
                                                                       "default": "web"}]})
        assert registry_decoder("avro", fetched(1), reader)(AVRO_N7) == {"n": 7, "c": "web"}

    @pytest.mark.parametrize(("value", "reason"), [
        (b'{"n": 7}', "not in the Confluent wire format: the first byte is 0x7b"),
        (b"\x00\x00\x00", "fewer than the 5 of its header"),
        (b"\x00\x00\x00\x00\x09\x0e", "schema id 9 is not in the schema registry (http://registry)"),
        (b"\x00\x00\x00\x00\x02{}", "schema 2 is a JSON schema; this route decodes avro"),
        (b"\x00\x00\x00\x00\x01", "does not decode as Avro with schema 1"),
    ])
    def test_what_is_the_records_fault_is_a_decode_error_with_its_reason(self, value: bytes, reason: str) -> None:
        """A wrong first byte, a short value, an unknown id, a schema of another type, a cut record."""
        with pytest.raises(DecodeError) as failure:
            registry_decoder("avro", fetched(1, 2, 9))(value)
        assert reason in str(failure.value)

    def test_a_schema_not_fetched_is_never_the_records_fault(self) -> None:
        """Decoding before the batch's schemas were fetched is the caller's bug: never a dead letter."""
        with pytest.raises(RegistryUnavailable, match="schema id 1 was not fetched"):
            registry_decoder("avro", fetched())(AVRO_N7)


class TestJsonSchema:
    def test_the_json_after_the_header_is_checked_against_its_schema(self) -> None:
        """JSON Schema framing: the JSON is parsed and checked against the schema of its id; a mismatch says why."""
        decode = registry_decoder("json_schema", fetched(2))
        assert decode(b'\x00\x00\x00\x00\x02{"n": 1}') == {"n": 1}
        with pytest.raises(DecodeError, match="does not match its JSON Schema 2: \\(root\\): \"n\" is a required"):
            decode(b"\x00\x00\x00\x00\x02{}")


class TestSchemaIds:
    def test_the_ids_of_framed_values_only(self) -> None:
        """Tombstones and unframed values name no schema."""
        records: list[Any] = [PlainRecord("t", 0, o, v) for o, v in enumerate(
            [AVRO_N7, None, b"{}", b"\x00\x00\x00\x01\x00x", AVRO_N7])]
        assert schema_ids(records) == {1, 256}
        assert batch_schema_ids(frozenset({"t"}), {TopicPartition("t", 0): records,
                                                   TopicPartition("u", 0): records[:1]}) == {1, 256}
        assert batch_schema_ids(frozenset({"u"}), {TopicPartition("t", 0): records}) == set()
