"""`karafkad held`: the held keys of a routes file's ordered routes, and the operator's two ways to release one.

A held key (store/held.py) waits for an operator: `retry` runs its failed job again, and when it succeeds the
worker runs the rest of the key in order; `skip` runs the rest without it (it stays in RQ's failed registry,
where RQ's own tools still see it). Each group's jobs are on the group's Redis (config.redis_for), so the routes
are looked at per Redis. Only a job that holds its key now is released: a failed job that holds none (skipped
before) would run out of its key's order. Every release is noted in the events list for the status pages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from redis import Redis

from karafkad.config.settings import RedisSettings
from karafkad.routes.table import Route, RouteTable
from karafkad.store import events
from karafkad.store.held import HeldKey, HeldKeys, Release, find_held, held_jobs
from karafkad.text import plural

Action = Literal["skip", "retry"]
Connect: TypeAlias = "Callable[[RedisSettings], Redis[bytes]]"  # a string: redis-py's Redis is generic to mypy only
"""Makes a client for a Redis (each group's jobs are on its own)."""
EVENT_KEYS_NAMED = 5
"""Keys an event's message names; the rest are counted (the status page shows one line per event)."""


@dataclass
class Listing:
    """The held keys of the routes looked at, over their Redis servers."""

    keys: list[HeldKey] = field(default_factory=list)
    unread: dict[str, int] = field(default_factory=dict)
    """Queue -> failed jobs older than those read (a key they hold is not listed)."""


@dataclass
class Outcome:
    """What a release did: per job, what was done, or why nothing was."""

    action: Action
    done: list[tuple[HeldKey, Release]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(job id, why)."""

    def summary(self) -> str:
        verb = "skipped" if self.action == "skip" else "retried"
        return (f"{plural(len(self.done), 'held key')} {verb}"
                + (f"; {len(self.refused)} refused" if self.refused else ""))


class HeldOperations:
    """Looks for held keys and releases them, for one routes file."""

    def __init__(self, table: RouteTable, connect: Connect) -> None:
        self.table = table
        self.connect = connect
        self._clients: dict[RedisSettings, Redis[bytes]] = {}

    def client(self, settings: RedisSettings) -> Redis[bytes]:
        if settings not in self._clients:
            self._clients[settings] = self.connect(settings)
        return self._clients[settings]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def ordered(self, route: str | None = None) -> list[Route]:
        """The ordered routes of the file (only `route`'s, when named)."""
        return [r for r in self.table.routes if r.spec.ordered and (route is None or r.name == route)]

    def _by_redis(self, routes: Sequence[Route]) -> dict[RedisSettings, list[Route]]:
        out: dict[RedisSettings, list[Route]] = {}
        for route in routes:
            out.setdefault(self.table.config.redis_for(route.spec.group), []).append(route)
        return out

    def listing(self, route: str | None = None) -> Listing:
        """Every held key of the ordered routes (of `route` only, when named); EnqueueError when a Redis fails."""
        found = Listing()
        for settings, routes in self._by_redis(self.ordered(route)).items():
            scan = find_held(self.client(settings), routes, settings)
            found.keys += scan.keys
            found.unread.update(scan.unread)
        return found

    def named(self, job_ids: Sequence[str]) -> tuple[list[HeldKey], list[tuple[str, str]]]:
        """The keys the failed `job_ids` hold, and (job id, why) for those that hold none."""
        held: dict[str, HeldKey] = {}
        refused: dict[str, str] = {}
        ordered = self.ordered()
        owners = {job_id: next((r for r in ordered if _owns(r, job_id)), None) for job_id in job_ids}
        for job_id, owner in owners.items():
            if owner is None:
                refused[job_id] = f"no job of an ordered route of {self.table.config.file}"
        for settings, routes in self._by_redis(ordered).items():
            mine = [job_id for job_id, owner in owners.items() if owner is not None and owner in routes]
            if not mine:
                continue
            for job_id, answer in held_jobs(self.client(settings), routes, mine, settings).items():
                if isinstance(answer, HeldKey):
                    held[job_id] = answer
                else:
                    refused[job_id] = answer
        return ([held[j] for j in job_ids if j in held],
                [(j, refused[j]) for j in dict.fromkeys(job_ids) if j in refused])

    def release(self, action: Action, keys: Sequence[HeldKey], who: str | None = None) -> Outcome:
        """Skip or retry each key's failed job; the command is noted for the consoles, with `who` ran it."""
        outcome = Outcome(action)
        routes = {(r.spec.group, r.name): r for r in self.table.routes}
        for key in keys:
            settings = self.table.config.redis_for(key.group)
            store = HeldKeys(self.client(settings), settings)
            if action == "skip":
                release = store.skip(key.job_id)
            else:
                release = store.retry(key.job_id, routes[(key.group, key.route)].spec.job.serializer)
            if release.refused:
                outcome.refused.append((key.job_id, release.refused))
            else:
                outcome.done.append((key, release))
        if outcome.done:
            named = ", ".join(f"{key.route} {key.shown_key!r}" for key, _ in outcome.done[:EVENT_KEYS_NAMED])
            more = len(outcome.done) - EVENT_KEYS_NAMED
            events.record(self.client(self.table.config.redis), f"held-{action}",
                          f"held {action}{f' by {who}' if who else ''}: {outcome.summary()}: {named}"
                          + (f" and {more} more" if more > 0 else ""),
                          jobs=[key.job_id for key, _ in outcome.done],
                          groups=sorted({key.group for key, _ in outcome.done}), who=who)
        return outcome


def _owns(route: Route, job_id: str) -> bool:
    """Whether `job_id` is one of the route's (its ids start with the prefix of one of its topics)."""
    return any(job_id.startswith(f"{prefix}-") for prefix in route.id_prefixes.values())


def matching(keys: Sequence[HeldKey], key: str) -> list[HeldKey]:
    """The held keys named `key`: as `held list` shows it, or as its text."""
    raw = key.encode("utf-8", "surrogateescape")
    return [held for held in keys if held.shown_key == key or held.key == raw]
