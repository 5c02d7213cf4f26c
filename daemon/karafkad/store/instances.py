"""The daemons of a deployment, as each one publishes itself in Redis: any daemon's console shows them all.

Every daemon writes its status snapshot to `karafkad:instance:NAME` every few
seconds with a short expiry, and notes when it did in the sorted set
`karafkad:instances`. A daemon that stops publishing (killed, its host gone)
loses its snapshot at the expiry but stays in the set for a while: the
console shows it as gone, with when it was last seen, instead of letting it
vanish silently. The set forgets it after GONE_KEPT.

Memory: one snapshot per live daemon (its JSON: about 1 KB plus 150 bytes per
partition, see docs/operations.md) and one set member per daemon seen within
GONE_KEPT.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis import Redis

from karafkad.store.keys import INSTANCES_KEY, instance_key

SNAPSHOT_TTL = 20
"""Seconds a published snapshot lives: a daemon publishes every few seconds (PUBLISH_INTERVAL in
supervision/maintenance.py), so a killed one is shown gone within this (plus one interval) — well within a
minute — while a daemon busy for a moment does not flicker."""
GONE_KEPT = 3600
"""Seconds a daemon that stopped publishing is still listed, as gone: long enough to see what vanished during
an incident, short enough that a deployment's renamed hosts do not pile up."""


@dataclass(frozen=True)
class Instance:
    """A daemon of the deployment as Redis knows it."""

    name: str
    seen_at: float
    """When it last published (seconds since the epoch)."""
    snapshot: Mapping[str, Any] | None
    """Its latest status snapshot; None once it expired: the daemon is gone."""

    @property
    def gone(self) -> bool:
        return self.snapshot is None


def publish(client: Redis[bytes], name: str, snapshot: Mapping[str, Any], now: float,
            ttl: int = SNAPSHOT_TTL) -> None:
    """Write the daemon's snapshot (expiring after `ttl`), note it as seen now, and forget those gone for longer
    than GONE_KEPT: one round trip. Raises what redis-py raises."""
    data = json.dumps(snapshot, default=str, separators=(",", ":"))
    with client.pipeline(transaction=True) as pipe:
        pipe.set(instance_key(name), data, ex=ttl)
        pipe.zadd(INSTANCES_KEY, {name: now})
        pipe.zremrangebyscore(INSTANCES_KEY, "-inf", now - GONE_KEPT)
        pipe.execute()


def read_all(client: Redis[bytes]) -> list[Instance]:
    """Every daemon seen within GONE_KEPT, by name, with its snapshot (None: gone). Two round trips."""
    seen = client.zrange(INSTANCES_KEY, 0, -1, withscores=True)
    if not seen:
        return []
    names = [member.decode() if isinstance(member, bytes) else str(member) for member, _ in seen]
    raw = client.mget([instance_key(name) for name in names])
    out = []
    for name, (_, score), data in sorted(zip(names, seen, raw, strict=True)):
        snapshot: Any = None
        if data is not None:
            try:
                snapshot = json.loads(data)
            except ValueError:
                snapshot = None
        out.append(Instance(name, float(score), snapshot if isinstance(snapshot, dict) else None))
    return out
