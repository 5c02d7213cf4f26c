"""The decode modes of records in the Confluent wire format: `avro`, `protobuf` and `json_schema`.

A decoder stays a pure function of the value, as the other modes are: it
reads the schema id from the record's header and decodes with the compiled
schema the store already holds. The network stays out of the pipeline: the
ids a batch needs (`schema_ids`) are fetched before it is decided, and a
registry that cannot answer then postpones the batch (consuming/poll_loop.py).
What is the record's own fault is a DecodeError, so a dead letter with the
reason: not framed (a wrong first byte, too short), an id the registry does
not have, a schema of another type than the route decodes, a record that
does not decode with its schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from karafkad.clients.kafka.types import Record, TopicPartition
from karafkad.clients.registry.avro import AvroSchema
from karafkad.clients.registry.json_schema import JsonSchema
from karafkad.clients.registry.protobuf import ProtobufSchema
from karafkad.clients.registry.store import Compiled, SchemaStore, Unusable
from karafkad.clients.registry.wire import HEADER_BYTES, peek_schema_id, schema_id
from karafkad.errors import DecodeError, RegistryUnavailable
from karafkad.routes.decoding import decode_json

KINDS: dict[str, type[AvroSchema] | type[ProtobufSchema] | type[JsonSchema]] = {
    "avro": AvroSchema, "protobuf": ProtobufSchema, "json_schema": JsonSchema}
"""The compiled schema each registry decode mode reads records with."""


def registry_decoder(mode: str, store: SchemaStore, reader: tuple[Any, bool] | None = None
                     ) -> Callable[[bytes], Any]:
    """The decoder of a registry decode mode, reading schemas from `store`; an Avro route's `reader` schema
    (parsed, and whether it is plain: clients/registry/avro.py) resolves every record to it."""
    expected = KINDS[mode]
    get = store.get

    def schema_of(value: bytes) -> Compiled:
        number = schema_id(value)
        found = get(number)
        if found is None:  # every caller fetches a batch's schemas before deciding it: never a record's fault
            raise RegistryUnavailable(f"schema id {number} was not fetched before its record was decoded")
        if isinstance(found, Unusable):
            raise DecodeError(found.reason)
        if not isinstance(found, expected):
            raise DecodeError(f"schema {number} is a {found.kind} schema; this route decodes {mode}")
        return found

    if mode == "avro":
        parsed, plain = reader if reader is not None else (None, True)

        def decode_avro(value: bytes) -> Any:
            schema = schema_of(value)
            assert isinstance(schema, AvroSchema)  # schema_of checked it
            return schema.decode(value, parsed, plain)

        return decode_avro

    if mode == "protobuf":
        def decode_protobuf(value: bytes) -> Any:
            schema = schema_of(value)
            assert isinstance(schema, ProtobufSchema)
            return schema.decode(value)

        return decode_protobuf

    def decode_json_schema(value: bytes) -> Any:
        schema = schema_of(value)
        assert isinstance(schema, JsonSchema)
        record = decode_json(value[HEADER_BYTES:])
        problem = schema.problem(record)
        if problem is not None:
            raise DecodeError(f"does not match its JSON Schema {schema.schema_id}: {problem}")
        return record

    return decode_json_schema


def schema_ids(records: Iterable[Record]) -> set[int]:
    """The schema ids the framed values among `records` name (what to fetch before deciding them)."""
    ids = set()
    for record in records:
        number = peek_schema_id(record.value)
        if number is not None:
            ids.add(number)
    return ids


def batch_schema_ids(registry_topics: frozenset[str], records: Mapping[TopicPartition, Sequence[Record]]) -> set[int]:
    """The schema ids of a poll's records on the topics some registry route reads."""
    ids: set[int] = set()
    for tp, recs in records.items():
        if tp.topic in registry_topics:
            ids |= schema_ids(recs)
    return ids
