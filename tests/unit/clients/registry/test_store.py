"""The schema store: each id fetched once for the process's life, unknown ids remembered, outages told once."""

from __future__ import annotations

import json
from typing import Any

import pytest
import structlog

from karafkad.clients.registry.api import Reference, RegisteredSchema
from karafkad.clients.registry.avro import AvroSchema
from karafkad.clients.registry.store import SchemaStore, Unusable
from karafkad.errors import RegistryUnavailable

STRING = RegisteredSchema('"string"', "AVRO")
ADDRESS = RegisteredSchema(json.dumps({"type": "record", "name": "Address", "namespace": "shop",
                                       "fields": [{"name": "city", "type": "string"}]}), "AVRO")
ORDER = RegisteredSchema(json.dumps({"type": "record", "name": "Order", "namespace": "shop",
                                     "fields": [{"name": "to", "type": "shop.Address"}]}), "AVRO",
                         (Reference("shop.Address", "address-value", 1),))


class FakeClient:
    """A registry with ids 1 (a string), 2 (an Order using a referenced Address), 3 (not Avro); every request
    counted; `down` makes every request fail as an unreachable registry does."""

    def __init__(self) -> None:
        self.asked: list[Any] = []
        self.down: str | None = None

    def describe(self) -> str:
        return "http://registry"

    def schema(self, schema_id: int) -> RegisteredSchema | None:
        self._ask(schema_id)
        found = {1: STRING, 2: ORDER, 3: RegisteredSchema("{not json", "AVRO")}.get(schema_id)
        return None if found is None else RegisteredSchema(found.schema, found.schema_type, found.references,
                                                           schema_id=schema_id)

    def version(self, subject: str, version: Any = "latest") -> RegisteredSchema | None:
        self._ask((subject, version))
        if subject == "address-value":
            return ADDRESS
        if subject == "orders-value":
            return RegisteredSchema(ORDER.schema, "AVRO", ORDER.references, schema_id=2, subject=subject, version=1)
        return None

    def register(self, subject: str, schema: RegisteredSchema) -> int:
        self._ask(("register", subject))
        return 1

    def _ask(self, what: Any) -> None:
        if self.down:
            raise RegistryUnavailable(self.down)
        self.asked.append(what)


def store() -> tuple[SchemaStore, FakeClient]:
    fake = FakeClient()
    return SchemaStore(fake), fake  # type: ignore[arg-type]  # the fake has what the store asks


class TestFetch:
    def test_each_id_is_asked_once_and_kept(self) -> None:
        """A second fetch of known ids asks nothing; the compiled schema is there by id."""
        schemas, fake = store()
        schemas.fetch([1, 1])
        schemas.fetch([1])
        assert fake.asked == [1] and schemas.requests == 1
        assert isinstance(schemas.get(1), AvroSchema)
        assert schemas.get(5) is None

    def test_references_are_fetched_first_and_named_types_resolve(self) -> None:
        """An Order whose field type is in another subject compiles with it."""
        schemas, fake = store()
        schemas.fetch([2])
        assert fake.asked == [2, ("address-value", 1)]
        assert isinstance(schemas.get(2), AvroSchema)

    def test_an_unknown_id_and_an_unusable_schema_are_remembered_with_their_reason(self) -> None:
        """They are answers about the records (dead letters), asked once."""
        schemas, fake = store()
        schemas.fetch([9, 3])
        schemas.fetch([9, 3])
        assert fake.asked == [9, 3]
        assert schemas.get(9) == Unusable("schema id 9 is not in the schema registry (http://registry)")
        unusable = schemas.get(3)
        assert isinstance(unusable, Unusable) and "schema 3 is not JSON" in unusable.reason


class TestOutage:
    def test_an_outage_is_logged_once_kept_for_ready_and_retried_with_doubling_waits(self) -> None:
        """The first failure is one warning; the same one again is not logged; waits double to BACKOFF_MAX; the
        first answer after it clears the outage with one line."""
        schemas, fake = store()
        fake.down = "schema registry http://registry: connection refused"
        with structlog.testing.capture_logs() as logs:
            waits = []
            for _ in range(7):
                with pytest.raises(RegistryUnavailable):
                    schemas.fetch([1])
                waits.append(schemas.retry_in())
            assert schemas.outage == fake.down and schemas.get(1) is None
            fake.down = None
            schemas.fetch([1])
        assert waits == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
        assert [entry["log_level"] for entry in logs] == ["warning", "info"]
        assert logs[0]["error"] == "schema registry http://registry: connection refused"
        assert schemas.outage is None and schemas.retry_in() == 0.2


class TestEncoder:
    def test_a_subjects_latest_schema_encodes(self) -> None:
        """By subject: the schema's id is framed in."""
        schemas, _ = store()
        encoder = schemas.encoder("orders-value")
        assert encoder.schema_id == 2
        assert encoder({"to": {"city": "Köln"}})[:5] == b"\x00\x00\x00\x00\x02"

    def test_a_missing_subject_is_a_lookup_error(self) -> None:
        """A subject or version the registry does not have is a LookupError naming both."""
        schemas, _ = store()
        with pytest.raises(LookupError, match="no subject 'nope' version 4"):
            schemas.encoder("nope", 4)

    def test_a_message_name_is_only_for_protobuf(self) -> None:
        """Naming a message for an Avro subject is refused: only Protobuf schemas hold several messages."""
        schemas, _ = store()
        with pytest.raises(ValueError, match="a message name picks a Protobuf message"):
            schemas.encoder("orders-value", message="Order")
