"""A small stand-in for a redis-py client, for unit tests of the store: a few commands over dicts, and a count
of the round trips (one per direct command, one per pipeline executed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis


class FakeRedis:
    """Strings, hashes, lists and sorted sets in dicts. `fail` set: every round trip raises it instead."""

    def __init__(self) -> None:
        self.strings: dict[str, bytes] = {}
        self.hashes: dict[str, dict[bytes, bytes]] = {}
        self.lists: dict[str, list[bytes]] = {}
        self.zsets: dict[str, dict[bytes, float]] = {}
        self.ttls: dict[str, int] = {}
        """key -> the expiry last set on it (seconds)."""
        self.round_trips = 0
        self.fail: redis.RedisError | None = None

    def close(self) -> None:
        pass

    def trip(self) -> None:
        self.round_trips += 1
        if self.fail is not None:
            raise self.fail

    def pipeline(self, transaction: bool = True) -> FakePipeline:
        return FakePipeline(self)

    def mget(self, keys: list[str]) -> list[bytes | None]:
        self.trip()
        return [self.strings.get(k) for k in keys]

    def lrange(self, key: str, start: int, end: int) -> list[bytes]:
        self.trip()
        return self.lists.get(key, [])[start:None if end == -1 else end + 1]

    # The console's (store/instances.py, history.py, pauses.py): direct commands, and expiries noted in `ttls`.

    def hsetnx(self, key: str, name: str, value: str | bytes) -> bool:
        self.trip()
        fields = self.hashes.setdefault(key, {})
        if _raw(name) in fields:
            return False
        fields[_raw(name)] = _raw(value)
        return True

    def hgetall(self, key: str) -> dict[bytes, bytes]:
        self.trip()
        return dict(self.hashes.get(key, {}))

    def zrange(self, key: str, start: int, end: int, withscores: bool = False) -> list[Any]:
        self.trip()
        ordered = sorted(self.zsets.get(key, {}).items(), key=lambda item: (item[1], item[0]))
        chosen = ordered[start:None if end == -1 else end + 1]
        return chosen if withscores else [member for member, _ in chosen]

    def zrangebyscore(self, key: str, low: float | str, high: float | str) -> list[bytes]:
        self.trip()
        return [m for m, score in sorted(self.zsets.get(key, {}).items(), key=lambda item: item[1])
                if _score(low) <= score <= _score(high)]


class FakePipeline:
    """Queues commands; `execute` runs them all in one round trip."""

    def __init__(self, client: FakeRedis) -> None:
        self.client = client
        self.queued: list[Callable[[], Any]] = []

    def __enter__(self) -> FakePipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def get(self, key: str) -> None:
        self.queued.append(lambda: self.client.strings.get(key))

    def hgetall(self, key: str) -> None:
        self.queued.append(lambda: dict(self.client.hashes.get(key, {})))

    def llen(self, key: str) -> None:
        self.queued.append(lambda: len(self.client.lists.get(key, [])))

    def zcard(self, key: str) -> None:
        self.queued.append(lambda: len(self.client.zsets.get(key, {})))

    def lpush(self, key: str, value: str | bytes) -> None:
        data = value.encode() if isinstance(value, str) else value
        self.queued.append(lambda: self.client.lists.setdefault(key, []).insert(0, data))

    def ltrim(self, key: str, start: int, end: int) -> None:
        def trim() -> None:
            self.client.lists[key] = self.client.lists.get(key, [])[start:end + 1]
        self.queued.append(trim)

    def execute(self) -> list[Any]:
        self.client.trip()
        return [command() for command in self.queued]

    # The console's commands, queued.

    def set(self, key: str, value: str | bytes, ex: int | None = None) -> None:
        def run() -> bool:
            self.client.strings[key] = _raw(value)
            if ex is not None:
                self.client.ttls[key] = ex
            return True
        self.queued.append(run)

    def expire(self, key: str, seconds: int) -> None:
        self.queued.append(lambda: self.client.ttls.__setitem__(key, seconds))

    def zadd(self, key: str, mapping: dict[str, float]) -> None:
        self.queued.append(lambda: self.client.zsets.setdefault(key, {}).update(
            {_raw(m): float(v) for m, v in mapping.items()}))

    def zremrangebyscore(self, key: str, low: float | str, high: float | str) -> None:
        def run() -> int:
            members = self.client.zsets.get(key, {})
            gone = [m for m, score in members.items() if _score(low) <= score <= _score(high)]
            for member in gone:
                del members[member]
            return len(gone)
        self.queued.append(run)

    def hincrby(self, key: str, name: str, amount: int) -> None:
        def run() -> int:
            fields = self.client.hashes.setdefault(key, {})
            fields[_raw(name)] = str(int(fields.get(_raw(name), b"0")) + amount).encode()
            return int(fields[_raw(name)])
        self.queued.append(run)

    def hset(self, key: str, name: str, value: str | bytes | int) -> None:
        self.queued.append(lambda: self.client.hashes.setdefault(key, {}).__setitem__(_raw(name), _raw(str(value))))

    def hget(self, key: str, name: str) -> None:
        self.queued.append(lambda: self.client.hashes.get(key, {}).get(_raw(name)))

    def hdel(self, key: str, name: str) -> None:
        self.queued.append(lambda: int(self.client.hashes.get(key, {}).pop(_raw(name), None) is not None))


def _raw(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _score(bound: float | str) -> float:
    """A sorted-set bound as redis-py passes it: a number, or "-inf" / "+inf"."""
    return float(bound)


class RecordingPipeline:
    """Records the commands of a redis-py pipeline; HEXISTS answers from `client.fields`."""

    def __init__(self, client: RecordingRedis) -> None:
        self.client = client
        self.answers: list[Any] = []

    def __enter__(self) -> RecordingPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def hexists(self, key: str, name: str) -> None:
        self.answers.append((key, name) in self.client.fields)

    def __getattr__(self, command: str) -> Any:
        def call(*args: Any) -> None:
            self.client.commands.append((command, *args))
            self.answers.append(True)
        return call

    def execute(self) -> list[Any]:
        return self.answers


class RecordingRedis:
    """For what the operator commands write: records the commands of its pipelines; HEXISTS answers from
    `fields` ((key, field) pairs)."""

    def __init__(self, fields: set[tuple[str, str]] | None = None) -> None:
        self.fields = fields or set()
        self.commands: list[tuple[Any, ...]] = []

    def pipeline(self, transaction: bool = True) -> RecordingPipeline:
        return RecordingPipeline(self)
