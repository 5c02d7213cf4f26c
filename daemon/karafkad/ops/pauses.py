"""Pause and resume a route or a partition on every daemon of the deployment (`karafkad pause|resume`, and the
console's buttons: the same operation).

A pause is a field of the control hash in the top-level Redis
(store/pauses.py); every daemon reads it a few times a second and keeps the
partitions paused in its consumers (they keep polling, so they keep their
membership and partitions, and nothing is committed past what was handled),
also across restarts, until it is resumed. Pausing a route pauses its topics'
partitions in its group: the other routes of those topics wait too (Kafka
pauses partitions, not routes), which the message says. Every pause and
resume is noted in the events list, with who did it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis import Redis

from karafkad.routes.table import RouteTable
from karafkad.store import events
from karafkad.store import pauses as store
from karafkad.store.pauses import Pause, PauseTarget
from karafkad.text import close_match


@dataclass(frozen=True)
class Refused:
    """Why the arguments name no pause target (an unknown route or topic, a group to choose)."""

    reason: str


def route_target(table: RouteTable, route: str, group: str | None = None) -> PauseTarget | Refused:
    """The target of pausing route `route` (of `group`, when two groups have a route of that name)."""
    found = [r for r in table.routes if r.name == route and (group is None or r.spec.group == group)]
    if not found:
        names = sorted({r.name for r in table.routes})
        close = close_match(route, names)
        hint = f" (did you mean {close!r}?)" if close else ""
        where = f" in group {group}" if group is not None else ""
        return Refused(f"no route {route!r}{where}{hint} in {table.config.file}; its routes: {', '.join(names)}")
    groups = sorted({r.spec.group for r in found})
    if len(groups) > 1:
        return Refused(f"route {route!r} is in groups {', '.join(groups)}: name the group")
    return PauseTarget(groups[0], route=route)


def partition_target(table: RouteTable, topic: str, partition: int, group: str | None = None
                     ) -> PauseTarget | Refused:
    """The target of pausing one partition of `topic` (in `group`, when two groups consume it)."""
    groups = sorted(g.id for g in table.groups.values() if topic in g.by_topic and (group is None or g.id == group))
    if partition < 0:
        return Refused(f"partition {partition} does not exist (partitions are numbered from 0)")
    if not groups:
        topics = sorted({t for g in table.groups.values() for t in g.by_topic})
        close = close_match(topic, topics)
        hint = f" (did you mean {close!r}?)" if close else ""
        where = f"group {group} of " if group is not None else ""
        return Refused(f"no {where}{table.config.file} consumes topic {topic!r}{hint}; its topics: "
                       f"{', '.join(topics)}")
    if len(groups) > 1:
        return Refused(f"topic {topic!r} is consumed by groups {', '.join(groups)}: name the group")
    return PauseTarget(groups[0], topic=topic, partition=partition)


def reach(table: RouteTable, target: PauseTarget) -> str:
    """What a pause of `target` stops, in words: a route's topics and the other routes that wait with it."""
    if target.route is None:
        return f"partition {target.topic}[{target.partition}] of group {target.group}"
    group = table.groups.get(target.group)
    route = next((r for r in group.routes if r.name == target.route), None) if group is not None else None
    if group is None or route is None:
        return f"route {target.route} of group {target.group} (not in this routes file)"
    topics = route.spec.topics
    others = sorted({r.name for t in topics for r in group.by_topic.get(t, ()) if r.name != route.name})
    also = f"; routes {', '.join(others)} of those topics wait too" if others else ""
    return f"topics {', '.join(topics)} of group {target.group}{also}"


def pause(client: Redis[bytes], table: RouteTable, target: PauseTarget, who: str) -> str:
    """Pause `target` on every daemon; what was done, in words (noted in the events list). Raises what redis-py
    raises."""
    done = store.pause(client, target, who, time.time())
    if done is None:
        earlier = next((p for p in store.paused(client) if p.target == target), None)
        by = f" by {earlier.who}" if earlier is not None else ""
        return f"{target.describe()} was already paused{by}"
    message = f"{target.describe()} paused by {who}: {reach(table, target)} stop on every daemon"
    events.record(client, "pause", message, who=who, group=target.group, route=target.route, topic=target.topic,
                  partition=target.partition)
    return message


def resume(client: Redis[bytes], target: PauseTarget, who: str) -> str:
    """Resume `target` on every daemon; what was done, in words (noted in the events list)."""
    lifted = store.resume(client, target)
    if lifted is None:
        return f"{target.describe()} was not paused"
    message = f"{target.describe()} resumed by {who} (paused by {lifted.who})"
    events.record(client, "resume", message, who=who, group=target.group, route=target.route, topic=target.topic,
                  partition=target.partition)
    return message


def paused(client: Redis[bytes]) -> list[Pause]:
    """Every pause in force."""
    return store.paused(client)
