"""The Avro row: the bench's orders as Avro records framed for a schema registry, beside the same orders as JSON.

Both rows of `--only avro` consume the same orders with the same route
(schema, filter, queue), one as JSON, one as Avro records in the Confluent
wire format decoded with their writer schema (`decode: avro`), so the
difference of their CPU per message is what Avro decoding costs. The orders
that fail the JSON Schema in the other rows (a total of "a lot") cannot be
Avro at all; here they have a negative total instead, which the filter
drops, in both rows. The registry's share is measured apart: the requests it
answered (one per schema id for the daemon's life) and the CPU of the
pre-pass that finds a batch's schema ids.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from benchlib.data import KAFKA

PORT = int(os.environ.get("KARAFKAD_REGISTRY_PORT", int(os.environ.get("KARAFKAD_KAFKA_PORT", "29092")) + 10))
"""scripts/bench's registry: the Kafka port + 10 unless KARAFKAD_REGISTRY_PORT says otherwise."""
URL = f"http://127.0.0.1:{PORT}/apis/ccompat/v7"
PASSWORD = os.environ.get("KARAFKAD_REGISTRY_PASSWORD")
"""Set when the registry was started with basic auth (scripts/registry): the bench then logs in as `karafkad`."""
ORDER = {"type": "record", "name": "Order", "namespace": "bench", "fields": [
    {"name": "id", "type": "long"},
    {"name": "type", "type": "string"},
    {"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
        {"name": "id", "type": "string"}, {"name": "email", "type": "string"}, {"name": "country", "type": "string"}]}},
    {"name": "items", "type": {"type": "array", "items": {"type": "record", "name": "Item", "fields": [
        {"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}, {"name": "price", "type": "double"}]}}},
    {"name": "total", "type": "double"},
    {"name": "currency", "type": "string"},
    {"name": "created_at", "type": "string"},
    {"name": "test", "type": "boolean"},
]}
"""The bench's order (benchlib.data.make_messages) as an Avro record, field for field."""


def section() -> dict[str, Any]:
    """The routes file's `schema_registry` for scripts/bench's registry."""
    return {"url": URL, **({"username": "karafkad", "password": PASSWORD} if PASSWORD else {})}


def valid_orders(values: list[bytes]) -> list[bytes]:
    """The orders with a numeric total everywhere (a negative one where the others have "a lot")."""
    out = []
    for value in values:
        order = json.loads(value)
        if not isinstance(order["total"], int | float):
            order["total"] = -1.0
        out.append(json.dumps(order).encode())
    return out


def framed(values: list[bytes], subject: str) -> list[bytes]:
    """The JSON orders as Avro records framed for the registry (the schema registered under `subject`)."""
    from karafkad.clients.registry.api import RegisteredSchema, RegistryClient
    from karafkad.clients.registry.store import SchemaStore
    from karafkad.config.loading import registry_settings_of

    store = SchemaStore(RegistryClient(registry_settings_of(section())))
    encoder = store.encoder(subject, register=RegisteredSchema(json.dumps(ORDER), "AVRO"))
    return [encoder(json.loads(value)) for value in values]


def fill_binary(topic: str, values: list[bytes], _workdir: Path) -> None:
    """Values of any bytes into `topic` (kcat's line mode cannot carry them), batched as fill() batches: 16 KiB
    batches, 5 ms linger, with librdkafka (confluent-kafka, a dev dependency)."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": KAFKA, "linger.ms": 5, "batch.size": 16384, "acks": "all"})
    for value in values:
        while True:
            try:
                producer.produce(topic, value)
                break
            except BufferError:  # the local queue is full: let it drain
                producer.poll(0.05)
    if producer.flush(120):
        raise SystemExit(f"bench: not every Avro record reached {topic}")


def prepass_cost(values: list[bytes]) -> float:
    """CPU µs per message of the pre-pass that finds the schema ids of a poll's records (the daemon's only
    per-message work for the registry once every id is known), over 500-record polls."""
    from karafkad.clients.kafka.types import TopicPartition
    from karafkad.pipeline.records import PlainRecord
    from karafkad.routes.registry_decoding import batch_schema_ids

    records = [PlainRecord("t", 0, offset, value) for offset, value in enumerate(values)]
    polls = [{TopicPartition("t", 0): records[i:i + 500]} for i in range(0, len(records), 500)]
    topics = frozenset({"t"})
    started = time.process_time()
    for poll in polls:
        batch_schema_ids(topics, poll)
    return (time.process_time() - started) / len(records) * 1e6
