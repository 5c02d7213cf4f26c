"""What a re-drive would do now for each route of a dead letter: `karafkad dead-letters list` shows it.

A dead letter naming several routes is re-driven route by route (see
dead_letters.py), so "re-driven or not" is a route's state, not the letter's:
one route's job may be made, another route may still reject the message.
Each route's state comes from its re-drive mark in Redis (done) and from
running the message through the routes not done, with the current routes
file (passes, fails, no job); nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from redis import Redis

from karafkad.config.settings import RedisSettings
from karafkad.ops.dead_letters import Rerun, old_mark, route_mark
from karafkad.routes.table import RouteTable
from karafkad.store.dead_letter_headers import StoredDeadLetter


def redriven_routes(table: RouteTable, connect: Callable[[RedisSettings], Redis[bytes]],
                    letters: Sequence[StoredDeadLetter]) -> list[set[str]]:
    """For each dead letter, those of its routes whose job a re-drive already made (the marks of its message of
    origin, in its group's Redis; an earlier version's mark of the letter counts for its first route). Raises
    what redis-py raises when a Redis cannot be read."""
    done: list[set[str]] = [set() for _ in letters]
    by_redis: dict[RedisSettings, list[int]] = {}
    for index, letter in enumerate(letters):
        by_redis.setdefault(table.config.redis_for(letter.group), []).append(index)
    for settings, indexes in by_redis.items():
        asked: list[tuple[int, str]] = []
        with connect(settings).pipeline(transaction=False) as pipe:
            for index in indexes:
                letter = letters[index]
                for route in letter.routes:
                    pipe.hexists(route_mark(letter, route).key, str(letter.original.offset))
                    asked.append((index, route))
                pipe.hexists(old_mark(letter).key, str(letter.offset))
                asked.append((index, letter.routes[0] if letter.routes else ""))
            found = pipe.execute()
        for (index, route), marked in zip(asked, found, strict=True):
            if marked and route:
                done[index].add(route)
    return done


RouteState = Literal["done", "passes", "fails", "no job", "gone"]
"""What a re-drive with the current routes file does for one route of a dead letter: nothing, its job made
before (done); makes its job (passes); rejects it again (fails); makes none (no job: filtered, vetoed); no
such route in the file now (gone)."""


def route_states(table: RouteTable, letters: Sequence[StoredDeadLetter],
                 redriven: Sequence[set[str]] | None) -> list[dict[str, RouteState]]:
    """For each dead letter, each of its routes' state (`redriven`: redriven_routes', or None when Redis could
    not be read: then no route is known to be done). The routes not done are run, nothing is written."""
    rerun = Rerun(table)
    states = []
    for index, letter in enumerate(letters):
        done = redriven[index] if redriven is not None else set()
        routes = rerun.routes(letter, letter.routes) or []
        outcomes = rerun.run(letter, [r for r in routes if r.name not in done])
        present = {r.name for r in routes}
        state: dict[str, RouteState] = {}
        for name in letter.routes:
            state[name] = ("done" if name in done else "gone" if name not in present else
                           "fails" if name in outcomes.failing else "passes" if name in outcomes.jobs else "no job")
        states.append(state)
    return states
