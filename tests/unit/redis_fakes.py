"""A small stand-in for a redis-py client, for unit tests of the store: a few commands over dicts, and a count
of the round trips (one per direct command, one per pipeline executed, one per script call)."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable
from typing import Any

import redis


class FakeRedis:
    """Strings, hashes, lists, sets, sorted sets and streams in dicts. `fail` set: every round trip raises it
    instead. A registered script answers what `script_answers` holds, in order (and notes its call)."""

    def __init__(self) -> None:
        self.strings: dict[str, bytes] = {}
        self.hashes: dict[str, dict[bytes, bytes]] = {}
        self.lists: dict[str, list[bytes]] = {}
        self.sets: dict[str, set[bytes]] = {}
        self.zsets: dict[str, dict[bytes, float]] = {}
        """key -> member -> score."""
        self.streams: dict[str, list[tuple[bytes, dict[bytes, bytes]]]] = {}
        """key -> entries, oldest first."""
        self.ttls: dict[str, int] = {}
        """key -> the expiry last set on it (seconds)."""
        self.script_answers: list[Any] = []
        self.script_calls: list[tuple[list[Any], list[Any]]] = []
        self.round_trips = 0
        self.fail: redis.RedisError | None = None

    def register_script(self, script: str) -> Callable[..., Any]:
        def call(keys: list[Any], args: list[Any], client: Any = None) -> Any:
            self.trip()
            self.script_calls.append((list(keys), list(args)))
            return self.script_answers.pop(0)
        return call

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
        if _bytes(name) in fields:
            return False
        fields[_bytes(name)] = _bytes(value)
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

    def lpush(self, key: str, value: str | bytes) -> None:
        data = value.encode() if isinstance(value, str) else value
        self.queued.append(lambda: self.client.lists.setdefault(key, []).insert(0, data))

    def ltrim(self, key: str, start: int, end: int) -> None:
        def trim() -> None:
            self.client.lists[key] = self.client.lists.get(key, [])[start:end + 1]
        self.queued.append(trim)

    def hget(self, key: str, name: str | bytes) -> None:
        self.queued.append(lambda: self.client.hashes.get(key, {}).get(_bytes(name)))

    def hmget(self, key: str, names: list[str]) -> None:
        self.queued.append(lambda: [self.client.hashes.get(key, {}).get(_bytes(n)) for n in names])

    def scard(self, key: str) -> None:
        self.queued.append(lambda: len(self.client.sets.get(key, set())))

    def smembers(self, key: str) -> None:
        self.queued.append(lambda: set(self.client.sets.get(key, set())))

    def zcard(self, key: str) -> None:
        self.queued.append(lambda: len(self.client.zsets.get(key, {})))

    def zscore(self, key: str, member: str) -> None:
        self.queued.append(lambda: self.client.zsets.get(key, {}).get(_bytes(member)))

    def zrange(self, key: str, start: int, end: int, desc: bool = False) -> None:
        def members() -> list[bytes]:
            ordered = sorted(self.client.zsets.get(key, {}).items(), key=lambda item: item[1], reverse=desc)
            return [member for member, _ in ordered][start:None if end == -1 else end + 1]
        self.queued.append(members)

    def xrevrange(self, key: str, count: int | None = None) -> None:
        self.queued.append(lambda: list(reversed(self.client.streams.get(key, [])))[:count])

    def execute(self) -> list[Any]:
        self.client.trip()
        return [command() for command in self.queued]

    # The console's commands, queued.

    def set(self, key: str, value: str | bytes, ex: int | None = None) -> None:
        def run() -> bool:
            self.client.strings[key] = _bytes(value)
            if ex is not None:
                self.client.ttls[key] = ex
            return True
        self.queued.append(run)

    def expire(self, key: str, seconds: int) -> None:
        self.queued.append(lambda: self.client.ttls.__setitem__(key, seconds))

    def zadd(self, key: str, mapping: dict[str, float]) -> None:
        self.queued.append(lambda: self.client.zsets.setdefault(key, {}).update(
            {_bytes(m): float(v) for m, v in mapping.items()}))

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
            fields[_bytes(name)] = str(int(fields.get(_bytes(name), b"0")) + amount).encode()
            return int(fields[_bytes(name)])
        self.queued.append(run)

    def hset(self, key: str, name: str, value: str | bytes | int) -> None:
        self.queued.append(lambda: self.client.hashes.setdefault(key, {}).__setitem__(_bytes(name), _bytes(str(value))))

    def hdel(self, key: str, name: str) -> None:
        self.queued.append(lambda: int(self.client.hashes.get(key, {}).pop(_bytes(name), None) is not None))


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


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def held_scan_answer(total: int, read: int, *held: tuple[str, str, int]) -> list[Any]:
    """What store/held_scan.lua answers: the registry's size, how many were read, then per (job id, chain field,
    jobs waiting) a job that holds its key, failed at 2026-11-30T08:00:00.25Z with `ValueError: no such
    customer` in its latest result, counted to the end."""
    answer: list[Any] = [total, read]
    for job_id, chain_field, waiting in held:
        answer += [job_id.encode(), chain_field.encode(), b"2026-11-30T08:00:00.250000Z", waiting, 1, b"2",
                   base64.b64encode(zlib.compress(b"Traceback\n  File h.py\nValueError: no such customer\n")), b""]
    return answer
