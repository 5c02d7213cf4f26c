"""What every row shares: the services' addresses, the messages, topics filled with them, the routes file."""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# scripts/bench starts the services on these ports and state folder (and exports them), so a run
# can live beside the test suite's or another engineer's services.
KAFKA = f"127.0.0.1:{os.environ.get('KARAFKAD_KAFKA_PORT', '29092')}"
REDIS_URL = f"redis://127.0.0.1:{os.environ.get('KARAFKAD_REDIS_PORT', '26379')}/0"
# scripts/redis-ha's primary + replica + three sentinels (nodes on H, H+1, sentinels on H+2..H+4).
REDIS_HA_PORT = int(os.environ.get("KARAFKAD_REDIS_HA_PORT", int(os.environ.get("KARAFKAD_REDIS_PORT", "26379")) + 100))
SENTINEL_MASTER = "karafkad"
STATE_DIR = Path(os.environ.get("KARAFKAD_STATE_DIR", ROOT / ".run" / "bench"))
PARTITIONS = 8
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "type", "customer", "items", "total", "currency"],
    "properties": {
        "id": {"type": "integer"},
        "type": {"type": "string"},
        "customer": {"type": "object", "required": ["id", "email"],
                     "properties": {"id": {"type": "string"}, "email": {"type": "string"},
                                    "country": {"type": "string", "minLength": 2, "maxLength": 2}}},
        "items": {"type": "array", "items": {"type": "object", "required": ["sku", "qty", "price"],
                                             "properties": {"sku": {"type": "string"},
                                                            "qty": {"type": "integer", "minimum": 1},
                                                            "price": {"type": "number"}}}},
        "total": {"type": "number"},
        "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
        "created_at": {"type": "string"},
        "test": {"type": "boolean"},
    },
}
FILTER = 'params.total > 10 and params.currency == "EUR"'
# Handlers that return at once: the worker rows measure RQ's machinery, not a handler's work.
HANDLERS = '''
def handle(params):
    return None


def handle_meta(params, meta):
    return None
'''


def python_filter(params: dict[str, Any]) -> bool:
    """FILTER, as the obvious loop would write it."""
    return bool(params.get("total", 0) > 10 and params.get("currency") == "EUR")


def unique(prefix: str) -> str:
    """A fresh topic, group or queue name: every row starts from nothing another row left behind."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def make_messages(count: int, seed: int = 7) -> tuple[list[bytes], int]:
    """~300-byte orders: 80 % pass, 10 % are filtered out, 10 % fail the schema. Returns (values, passing).

    The same count and seed give the same messages, so each is made once per run (rows share them)."""
    values, passing = _messages(count, seed)
    return list(values), passing


@cache
def _messages(count: int, seed: int) -> tuple[tuple[bytes, ...], int]:
    rng = random.Random(seed)
    values, passing = [], 0
    for n in range(count):
        kind = rng.random()
        order = {
            "id": n,
            "type": "order.created",
            "customer": {"id": f"c-{rng.randrange(10**6)}", "email": f"user{rng.randrange(10**6)}@example.com",
                         "country": rng.choice(["DE", "FR", "NL", "IT"])},
            "items": [{"sku": f"SKU-{rng.randrange(1000)}", "qty": rng.randrange(1, 5),
                       "price": round(rng.uniform(1, 99), 2)} for _ in range(2)],
            "total": round(rng.uniform(11, 500), 2),
            "currency": "EUR",
            "created_at": "2026-11-24T17:00:00Z",
            "test": False,
        }
        if kind < 0.10:
            order["currency"] = "USD"  # filtered out
        elif kind < 0.20:
            order["total"] = "a lot"  # fails the schema
        else:
            passing += 1
        values.append(json.dumps(order).encode())
    return tuple(values), passing


def make_keys(count: int, keys: int, seed: int = 13) -> list[bytes]:
    """`count` message keys drawn from `keys` customers (`customer-0` ...), the same for the same arguments:
    an ordered route's chains (issue 19's rows), spread over the partitions by the producer's key hash."""
    return list(_keys(count, keys, seed))


@cache
def _keys(count: int, keys: int, seed: int) -> tuple[bytes, ...]:
    rng = random.Random(seed)
    return tuple(f"customer-{rng.randrange(keys)}".encode() for _ in range(count))


def create_topic(name: str, partitions: int = PARTITIONS) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()
    time.sleep(1)


def fill(topic: str, values: list[bytes], workdir: Path, keys: list[bytes] | None = None) -> None:
    """Produce `values` to `topic` (with `keys`, each message with its key: kcat's default partitioner then
    places a key's messages in one partition, as a Java producer's does)."""
    path = workdir / f"{topic}.jsonl"
    lines = values if keys is None else [key + b"\t" + value for key, value in zip(keys, values, strict=True)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    keyed = [] if keys is None else ["-K", "\t"]
    # Batching as a typical producer does it (the Java client's defaults: 16 KiB batches, 5 ms linger).
    subprocess.run(["kcat", "-P", "-b", KAFKA, "-t", topic, "-X", "linger.ms=5", "-X", "batch.size=16384",
                    *keyed, "-l", str(path)], check=True, timeout=600)


def consumer_options() -> dict[str, Any]:
    """The settings karafkad's own consumers use (clients/kafka/consumers.py, make_consumer), so the baselines get
    the same tuned client: in particular fetch_max_wait_ms 100, without which kafka-python 3.0
    stalls on half-empty fetches (~30k msgs/s here instead of ~90k)."""
    from karafkad import defaults

    return {"bootstrap_servers": KAFKA, "enable_auto_commit": False, "auto_offset_reset": "earliest",
            "max_poll_records": defaults.MAX_POLL_RECORDS, "metrics_enabled": False,
            "allow_auto_create_topics": False, "fetch_max_wait_ms": defaults.FETCH_MAX_WAIT_MS}


def redis() -> Any:
    import redis as redis_module

    return redis_module.Redis.from_url(REDIS_URL)


def redis_calls(client: Any) -> int:
    """Commands Redis has run so far (those inside Lua scripts included), from INFO commandstats."""
    return sum(int(stats["calls"]) for stats in client.info("commandstats").values())


def sentinel_section(min_replicas_acked: int) -> dict[str, Any]:
    """The routes file's `redis` for scripts/redis-ha (through its sentinels)."""
    return {"sentinel": {"sentinels": [f"127.0.0.1:{REDIS_HA_PORT + n}" for n in (2, 3, 4)],
                         "master": SENTINEL_MASTER}, "min_replicas_acked": min_replicas_acked}


def ha_redis() -> Any:
    """A client of scripts/redis-ha's current primary."""
    import redis as redis_module
    from redis.sentinel import Sentinel

    sentinels = Sentinel([("127.0.0.1", REDIS_HA_PORT + n) for n in (2, 3, 4)], socket_timeout=2)
    return sentinels.master_for(SENTINEL_MASTER, redis_class=redis_module.Redis)


def rq_time(stamp: bytes) -> float:
    """Seconds since the epoch of a job hash's timestamp (RQ's and karafkad's format, always UTC)."""
    return datetime.strptime(stamp.decode(), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def plugins_folder(workdir: Path) -> Path:
    """The plugin folder holding HANDLERS as `bench_handlers`, written if it is not there yet."""
    plugins = workdir / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "bench_handlers.py").write_text(HANDLERS)
    return plugins


def routes_file(workdir: Path, group: str, topic: str, queue: str, threads: int, pass_meta: bool = False,
                redis_section: dict[str, Any] | None = None, group_options: dict[str, Any] | None = None,
                route_options: dict[str, Any] | None = None) -> Path:
    """A routes file with one route from `topic` to `queue`; `route_options` adds to the route (`ordering`,
    `batch`)."""
    plugins = plugins_folder(workdir)
    path = workdir / f"routes-{group}.yaml"
    path.write_text(json.dumps({
        "kafka": {"bootstrap_servers": KAFKA, "client_id": "karafkad-bench"},
        "redis": redis_section or {"url": REDIS_URL},
        "plugins": {"paths": [str(plugins)]},
        "groups": {group: {"threads": threads, "session_timeout_ms": 45000, **(group_options or {}), "routes": [{
            "topic": topic, "handler": "bench_handlers.handle_meta" if pass_meta else "bench_handlers.handle",
            "queue": queue, "schema": SCHEMA, "filter": FILTER, "on_error": "skip", **(route_options or {})}]}},
    }))
    return path
