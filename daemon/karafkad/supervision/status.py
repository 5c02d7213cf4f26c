"""The shape of the daemon's status snapshot: what /status.json, `karafkad status` and the status page read."""

from __future__ import annotations

from typing import Any, TypedDict


class HeldPartition(TypedDict):
    partition: str
    """`topic[partition]`"""
    offset: int
    """The first offset of the batch that cannot be read."""
    error: str


class ThreadStatus(TypedDict):
    name: str
    index: int
    alive: bool
    joined: bool
    partitions: list[str]
    """`topic[partition]` of each partition assigned to the thread."""
    instance_id: str | None
    """Its static membership id, or None for a dynamic member."""
    held: list[HeldPartition]
    """Partitions held at a batch the client cannot read."""
    waiting: str | None
    """Why its partitions are paused: the failed write it keeps retrying (`replicas: ...`, `redis: ...`)."""
    paused: bool
    """Every partition is paused while it waits (a failed write, the marks, RQ queues above their watermark)."""
    operator_paused: list[str]
    """`topic[partition]` of each partition an operator paused (store/pauses.py)."""


class GroupStatus(TypedDict):
    threads: list[ThreadStatus]
    routes: list[str]
    redis: str
    """Where the group's jobs go (its own Redis, or the top-level one), password masked."""


class RouteStatus(TypedDict):
    group: str
    name: str
    topics: list[str]
    queue: str
    filter: str | None
    dead_letter: str | None
    on_error: str
    ordering: str
    """none | key | partition"""
    on_failure: str
    """hold | skip (what a failed job of an ordered route does to its key)"""


class HeldKeysStatus(TypedDict):
    """The daemon's last look at held keys (supervision/held_watch.py)."""

    keys: list[dict[str, Any]]
    """Each held key, as store/held.py's HeldKey.as_dict gives it."""
    scanned_at: float | None
    """Unix time of that look; None before the first."""
    error: str | None
    """Why a Redis could not be read then (its routes' keys are those of the look before)."""
    unread: dict[str, int]
    """Queue -> failed jobs older than those read (a key they hold is not among `keys`)."""


class PauseStatus(TypedDict):
    """An operator's pause, as every console shows it."""

    group: str
    route: str | None
    topic: str | None
    partition: int | None
    who: str
    at: float


class InstanceStatus(TypedDict):
    """Which daemon this is, as the consoles of the deployment name it."""

    name: str
    host: str
    pid: int


class StatusSnapshot(TypedDict):
    """Supervisor.status(): the daemon's state, without secrets."""

    state: str
    """starting | running | draining | stopped"""
    ready: bool
    started_at: float
    """Unix time."""
    routes_file: str
    groups: dict[str, GroupStatus]
    routes: list[RouteStatus]
    redis: str
    """Where Redis is, password masked."""
    kafka: dict[str, Any]
    """The kafka settings, passwords masked (KafkaSettings.describe)."""
    schema_registry: dict[str, Any] | None
    """Where the schema registry is (`url`, password masked), why it cannot be asked now (`outage`, or None), and
    the schemas asked of it so far (`requests`); None without registry routes."""
    instance: InstanceStatus
    pauses: list[PauseStatus]
    """The operators' pauses as last read from Redis (every daemon obeys them)."""
    held_keys: HeldKeysStatus
    """The keys of ordered routes held by a failed job."""
