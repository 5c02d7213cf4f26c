"""A message's parts as kafka-python's producer takes them, and the producer itself.

karafkad.producer (and through it the dead-letter sender and `karafkad
produce`) hands kafka-python values and keys as bytes and headers as (name,
bytes) pairs; anything else is a TypeError naming what is wrong, raised
before anything is sent. What goes wrong after that is worded by
failures.explain, as every Kafka error is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, cast

from karafkad.clients.kafka.types import ProducerClient

Headers = Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]]
"""Header names to values (text is sent as UTF-8); a list of pairs may repeat a name."""


def kafka_producer(**options: Any) -> ProducerClient:
    # Deferred: kafka-python takes a tenth of a second to import, which `karafkad check` never needs.
    from kafka import KafkaProducer

    from karafkad.clients.kafka import failures  # deferred with kafka-python, which it imports

    failures.watch()  # so that a failed bootstrap can be explained (TLS and SASL causes are only logged)
    return cast(ProducerClient, KafkaProducer(**options))


def as_bytes(value: str | bytes | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"expected bytes, str or None, not {type(value).__name__} (use send_json for data)")


def header_pairs(headers: Headers | None) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out = []
    for name, value in pairs:
        if not isinstance(name, str):
            raise TypeError(f"a header name must be text, not {type(name).__name__}")
        encoded = as_bytes(value)
        if encoded is None:
            raise TypeError(f"header {name!r} has no value; Kafka headers need bytes or text")
        out.append((name, encoded))
    return out


def key_text(key: str | bytes | None) -> str | None:
    if isinstance(key, bytes):
        return key.decode("utf-8", "backslashreplace")
    return key


def encode_json(data: Any) -> bytes:
    """JSON as karafkad decodes it: UTF-8, compact, integers of any size exact; NaN and infinities refused."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
