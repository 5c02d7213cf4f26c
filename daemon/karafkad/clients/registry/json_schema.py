"""JSON records framed with a registered JSON Schema: the schema compiled once, each record checked against it.

The record after the header is plain JSON (the route decodes it as it
decodes any JSON); the registered schema is what the producer promised, so
a record that breaks it does not decode "with its schema", as an Avro record
that does not read. It is compiled with jsonschema-rs (the validator of the
routes' own schemas, ~1 µs a record), its references resolved from the
registry's other subjects only: a schema never makes the daemon fetch a URL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jsonschema_rs

from karafkad.clients.registry.api import RegisteredSchema
from karafkad.clients.registry.wire import frame
from karafkad.errors import DecodeError


class JsonSchema:
    """One registered JSON Schema, compiled: checks decoded records, encodes data into framed records."""

    kind = "JSON"

    def __init__(self, registered: RegisteredSchema, references: Sequence[tuple[str, RegisteredSchema]] = ()) -> None:
        self.schema_id = registered.schema_id or 0
        try:
            document = json.loads(registered.schema)
            referenced = {name: json.loads(schema.schema) for name, schema in references}
        except ValueError as exc:
            raise DecodeError(f"JSON Schema {self.schema_id} is not JSON: {exc}") from None

        def retrieve(uri: str) -> Any:
            for name, found in referenced.items():
                if uri == name or uri.endswith("/" + name):
                    return found
            raise ValueError(f"{uri}: not a reference of schema {self.schema_id} (no URL is ever fetched)")

        try:
            self._validator = jsonschema_rs.validator_for(document, retriever=retrieve)
        except Exception as exc:  # jsonschema-rs's ValidationError / ReferencingError, with a message
            raise DecodeError(f"JSON Schema {self.schema_id} cannot be used: {_first_line(exc)}") from None

    def problem(self, record: Any) -> str | None:
        """Why a decoded record breaks the schema (where and what), or None."""
        try:
            if self._validator.is_valid(record):
                return None
            error = next(iter(self._validator.iter_errors(record)))
        except (ValueError, OverflowError, RecursionError) as exc:
            return f"cannot be checked: {_first_line(exc)}"
        where = "/".join(str(p) for p in error.instance_path)
        return f"{'/' + where if where else '(root)'}: {error.message}"

    def encode(self, data: Any) -> bytes:
        """`data` as a framed JSON record; ValueError when it breaks the schema or is not JSON."""
        # Deferred: the producer's JSON encoder lives with the Kafka client, which decoding never needs.
        from karafkad.clients.kafka.producing import encode_json

        problem = self.problem(data)
        if problem is not None:
            raise ValueError(f"does not fit JSON Schema {self.schema_id}: {problem}")
        return frame(self.schema_id, encode_json(data))


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
