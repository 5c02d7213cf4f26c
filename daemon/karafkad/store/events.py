"""What operator commands did (a replay, a re-drive), kept in Redis for the daemons' status pages.

The commands run in their own processes; the daemon's status page lists
its own recent problems and, beside them, these events, read from one capped
Redis list.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis
from redis import Redis

from karafkad.store.keys import EVENTS_KEY

KEPT = 100
"""Events kept (the newest)."""


def record(client: Redis[bytes], kind: str, message: str, **fields: Any) -> None:
    """Note an event; a Redis that does not answer loses the note, never the operation's result."""
    event = json.dumps({"time": time.time(), "kind": kind, "message": message, **fields}, default=str)
    try:
        with client.pipeline(transaction=True) as pipe:
            pipe.lpush(EVENTS_KEY, event)
            pipe.ltrim(EVENTS_KEY, 0, KEPT - 1)
            pipe.execute()
    except redis.RedisError:
        pass


def recent(client: Redis[bytes], count: int = 20) -> list[dict[str, Any]]:
    """The newest events first."""
    out = []
    for raw in client.lrange(EVENTS_KEY, 0, count - 1):
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if isinstance(event, dict):
            out.append(event)
    return out
