"""Writer schemas by id, fetched and compiled once for the process's life, and whether the registry answers.

A schema id names one schema forever, so a fetched schema (and an id the
registry said it does not have) is kept for the process's life: after the
first record of each id, decoding never touches the network. Records are
decoded from what is already here (`get`, a dict lookup); fetching is done
before a batch is decided (`fetch`), by the consumer loop, `explain` and the
route tests, so that a registry that cannot answer postpones the batch
instead of failing its records. The store also keeps the current outage:
the one log line when it begins (or its cause changes) and when it ends, the
wait before asking again, and what /ready and the status page say.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from karafkad import defaults
from karafkad.clients.registry.api import RegisteredSchema, RegistryClient
from karafkad.clients.registry.avro import AvroSchema
from karafkad.clients.registry.json_schema import JsonSchema
from karafkad.clients.registry.protobuf import ProtobufSchema
from karafkad.errors import DecodeError, RegistryUnavailable
from karafkad.observability import get_logger

log = get_logger(__name__)

Compiled = AvroSchema | ProtobufSchema | JsonSchema
"""A registered schema, ready to decode and encode records."""

References = list[tuple[str, RegisteredSchema]]


@dataclass(frozen=True)
class Encoder:
    """Encodes data with one registered schema into framed records (`karafkad produce`, the producer API, route
    tests): `encoder(data) -> bytes`; ValueError says what of `data` does not fit the schema."""

    schema: Compiled
    message: str | None = None
    """The Protobuf message records are of (a full name, or one without the package; None: the file's first)."""

    @property
    def schema_id(self) -> int:
        return self.schema.schema_id

    def __call__(self, data: Any) -> bytes:
        if isinstance(self.schema, ProtobufSchema):
            return self.schema.encode(data, self.message)
        return self.schema.encode(data)


@dataclass(frozen=True)
class Unusable:
    """An id whose records cannot decode: the registry has no such schema, or it cannot be compiled (the reason)."""

    reason: str


def compile_schema(registered: RegisteredSchema, references: References) -> Compiled:
    """The compiled form of a registered schema of any type; DecodeError says why it cannot be used."""
    if registered.schema_type == "PROTOBUF":
        return ProtobufSchema(registered, references)
    if registered.schema_type == "JSON":
        return JsonSchema(registered, references)
    return AvroSchema(registered, references)


class SchemaStore:
    """The writer schemas of one registry by id, for every thread of the process."""

    def __init__(self, client: RegistryClient,
                 compile: Callable[[RegisteredSchema, References], Compiled] = compile_schema) -> None:
        self.client = client
        self._compile = compile
        self._by_id: dict[int, Compiled | Unusable] = {}
        self._lock = threading.Lock()
        """One fetch at a time: threads that need the same new id wait for the first to fetch it."""
        self.outage: str | None = None
        """Why the registry cannot be asked now (its last failure), or None while it answers."""
        self._failures = 0
        self.requests = 0
        """Schemas asked of the registry so far (a figure of the benchmark: one per id for the process's life)."""

    def describe(self) -> str:
        return self.client.describe()

    def get(self, schema_id: int) -> Compiled | Unusable | None:
        """What is known of a schema id (None: not fetched yet)."""
        return self._by_id.get(schema_id)

    def fetch(self, ids: Iterable[int]) -> None:
        """Fetch and compile the schemas of `ids` not known yet; RegistryUnavailable (nothing of the failed one
        kept) when the registry cannot answer."""
        missing = [schema_id for schema_id in ids if schema_id not in self._by_id]
        if not missing:
            return
        with self._lock:
            try:
                for schema_id in missing:
                    if schema_id not in self._by_id:
                        self._by_id[schema_id] = self._fetch(schema_id)
            except RegistryUnavailable as exc:
                self._failed(exc)
                raise
        self._answered()

    def by_subject(self, subject: str, version: int | Literal["latest"] = "latest") -> Compiled:
        """A subject's schema (latest or a version), compiled; LookupError when the registry has no such subject
        or version, RegistryUnavailable when it cannot answer."""
        registered = self.client.version(subject, version)
        if registered is None:
            raise LookupError(f"the schema registry has no subject {subject!r}"
                              + (f" version {version}" if version != "latest" else ""))
        return self._compiled(registered)

    def encoder(self, subject: str, version: int | Literal["latest"] = "latest", *, message: str | None = None,
                register: RegisteredSchema | None = None) -> Encoder:
        """An encoder with a subject's schema: the one at `version` (the latest: as it is now), or `register`ed under
        the subject first (an identical schema keeps its id, so registering again is harmless). LookupError
        when there is no such subject or version, ValueError when the schema cannot be used or has no such
        message, RegistryUnavailable when the registry cannot answer."""
        schema = self.register(subject, register) if register is not None else self.by_subject(subject, version)
        if message is not None:
            if not isinstance(schema, ProtobufSchema):
                raise ValueError(f"a message name picks a Protobuf message; schema {schema.schema_id} of {subject!r} "
                                 f"is {schema.kind}")
            schema.indexes_of(message)  # ValueError now, not at the first record
        return Encoder(schema, message)

    def register(self, subject: str, schema: RegisteredSchema) -> Compiled:
        """Register `schema` under `subject` (an identical one keeps its id) and return it compiled."""
        schema_id = self.client.register(subject, schema)
        return self._compiled(RegisteredSchema(schema.schema, schema.schema_type, schema.references, schema_id))

    def retry_in(self) -> float:
        """Seconds to wait before asking again during an outage: doubling from BACKOFF_INITIAL to BACKOFF_MAX."""
        return float(min(defaults.BACKOFF_MAX, defaults.BACKOFF_INITIAL * 2 ** max(self._failures - 1, 0)))

    # --- internals ----------------------------------------------------------------

    def _compiled(self, registered: RegisteredSchema) -> Compiled:
        assert registered.schema_id is not None  # found by subject or registered: the registry gave its id
        known = self._by_id.get(registered.schema_id)
        if known is None:
            with self._lock:
                known = self._by_id[registered.schema_id] = self._build(registered)
        if isinstance(known, Unusable):
            raise ValueError(known.reason)
        return known

    def _fetch(self, schema_id: int) -> Compiled | Unusable:
        self.requests += 1
        registered = self.client.schema(schema_id)
        if registered is None:
            return Unusable(f"schema id {schema_id} is not in the schema registry ({self.describe()})")
        return self._build(registered)

    def _build(self, registered: RegisteredSchema) -> Compiled | Unusable:
        try:
            return self._compile(registered, self._references(registered, ()))
        except DecodeError as exc:
            return Unusable(str(exc))

    def _references(self, registered: RegisteredSchema, trail: tuple[str, ...]) -> References:
        """Every schema `registered` uses, directly or not, each before those that use it."""
        found: References = []
        for reference in registered.references:
            if reference.subject in trail:
                raise DecodeError(f"schema {registered.schema_id}: references go round ({' -> '.join(trail)})")
            self.requests += 1
            schema = self.client.version(reference.subject, reference.version)
            if schema is None:
                raise DecodeError(f"schema {registered.schema_id} uses {reference.subject!r} version "
                                  f"{reference.version}, which the schema registry does not have")
            found += self._references(schema, (*trail, reference.subject))
            found.append((reference.name, schema))
        return list({name: (name, schema) for name, schema in found}.values())

    def _failed(self, exc: RegistryUnavailable) -> None:
        self._failures += 1
        if self.outage != str(exc):
            log.warning("the schema registry cannot be asked for schemas; consuming pauses until it answers "
                        "(nothing is dead-lettered meanwhile)", error=str(exc), retry_in=round(self.retry_in(), 1))
        self.outage = str(exc)

    def _answered(self) -> None:
        if self.outage is not None:
            log.info("the schema registry answers again; consuming resumes", registry=self.describe())
        self.outage = None
        self._failures = 0
