"""The operators' pauses: routes and partitions every daemon keeps paused until an operator resumes them.

One Redis hash, `karafkad:paused`, on the top-level Redis every daemon of a
deployment shares: a field per paused target (a route of a group, or one
partition of a group's topic), its value who paused it and when. It has no
expiry: a pause outlives a restart of every daemon, and shows on every
console. The daemons read it on their maintenance thread ten times a second
(consuming/operator_pauses.py keeps what they read for the consumer
threads); the console and `karafkad pause|resume` write it (ops/pauses.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis import Redis

from karafkad.store.keys import PAUSES_KEY


@dataclass(frozen=True)
class PauseTarget:
    """What is paused: every partition of a route's topics in its group, or one partition of a group's topic."""

    group: str
    route: str | None = None
    topic: str | None = None
    partition: int | None = None

    def __post_init__(self) -> None:
        if (self.route is None) == (self.topic is None) or (self.topic is None) != (self.partition is None):
            raise ValueError("a pause is of a route, or of a topic's partition")

    @property
    def kind(self) -> str:
        return "route" if self.route is not None else "partition"

    def order(self) -> tuple[str, bool, str, str, int]:
        """Each group's together, its routes before its partitions."""
        return (self.group, self.route is None, self.route or "", self.topic or "", self.partition or 0)

    def field(self) -> str:
        """Its field in the hash: JSON, so that no name can be mistaken for another."""
        return json.dumps([self.group, self.route] if self.route is not None else
                          [self.group, self.topic, self.partition], separators=(",", ":"))

    @classmethod
    def from_field(cls, text: str) -> PauseTarget | None:
        """The target a field names, or None for a field karafkad did not write."""
        try:
            parts = json.loads(text)
            if isinstance(parts, list) and len(parts) == 2 and all(isinstance(p, str) for p in parts):
                return cls(parts[0], route=parts[1])
            if (isinstance(parts, list) and len(parts) == 3 and isinstance(parts[0], str)
                    and isinstance(parts[1], str) and isinstance(parts[2], int) and not isinstance(parts[2], bool)):
                return cls(parts[0], topic=parts[1], partition=parts[2])
        except ValueError:
            return None
        return None

    def describe(self) -> str:
        """`route orders (group shop)`, `partition orders[3] (group shop)`."""
        if self.route is not None:
            return f"route {self.route} (group {self.group})"
        return f"partition {self.topic}[{self.partition}] (group {self.group})"


@dataclass(frozen=True)
class Pause:
    """A target an operator paused: who did, and when."""

    target: PauseTarget
    who: str
    at: float
    """Seconds since the epoch."""

    def encode(self) -> str:
        return json.dumps({"who": self.who, "at": self.at})


def _decoded(field: bytes | str, value: bytes | str) -> Pause | None:
    target = PauseTarget.from_field(field.decode() if isinstance(field, bytes) else field)
    try:
        data: Any = json.loads(value)
    except ValueError:
        data = None
    if target is None or not isinstance(data, dict):
        return None
    return Pause(target, str(data.get("who", "?")), float(data.get("at", 0.0)))


def pause(client: Redis[bytes], target: PauseTarget, who: str, now: float) -> Pause | None:
    """Pause `target`; None when it was paused already (the pause stays whose it was: the earlier one is
    returned by `paused`). Raises what redis-py raises."""
    done = Pause(target, who, now)
    return done if client.hsetnx(PAUSES_KEY, target.field(), done.encode()) else None


def resume(client: Redis[bytes], target: PauseTarget) -> Pause | None:
    """Lift the pause of `target`; the pause lifted, or None when it was not paused. Raises what redis-py raises."""
    field = target.field()
    with client.pipeline(transaction=True) as pipe:
        pipe.hget(PAUSES_KEY, field)
        pipe.hdel(PAUSES_KEY, field)
        value, removed = pipe.execute()
    return _decoded(field, value) if removed and value is not None else None


def paused(client: Redis[bytes]) -> list[Pause]:
    """Every pause, in the order of their targets (fields karafkad did not write are passed over)."""
    found = (_decoded(field, value) for field, value in client.hgetall(PAUSES_KEY).items())
    return sorted((p for p in found if p is not None), key=lambda p: p.target.order())
