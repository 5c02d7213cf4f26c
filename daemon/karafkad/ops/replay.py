"""`karafkad replay`: consume a group's messages again, deliberately, as new jobs each enqueued once.

A replay moves the group's committed offsets back (to the earliest offset, an
offset, or a time) and writes a replay window per partition to Redis (see
store/replays.py): from the new position up to everything the group had
handled, the chosen routes run again with job ids of their own. The group
must have no active member (as Kafka's own tool requires: a running member
would go on from where it is); the plan is made all the same, so that a
dry run can show it, and only carrying it out is refused. Running the same
replay again completes one that was interrupted, or restarts one under way
(the window's own mark keeps it from enqueuing anything twice); a different
replay while one is under way is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from redis import Redis

from karafkad.clients.kafka.admin import Cluster, Member
from karafkad.clients.kafka.types import TopicPartition
from karafkad.errors import OperationRefused
from karafkad.routes.table import RouteTable
from karafkad.store import events
from karafkad.store.keys import replay_generation_key, replay_key
from karafkad.store.marks import MarkReader
from karafkad.store.replays import ReplayWindow
from karafkad.text import plural

WINDOW_TTL = 30 * 24 * 3600
"""Seconds a replay window is kept (at least the dedupe window): a replayed run must start within it."""


@dataclass(frozen=True)
class Target:
    """Where a replay starts: the earliest offset, an offset, or the first message at or after a time (ms)."""

    kind: Literal["earliest", "offset", "time"]
    value: int = 0


@dataclass
class PartitionPlan:
    """What a replay does to one partition."""

    partition: TopicPartition
    committed: int | None
    handled: int
    """Everything below it was handled (the committed offset, or the Redis mark + 1 if further)."""
    target: int
    window: ReplayWindow | None = None
    """None: nothing to replay here (see `note`)."""
    note: str = ""
    after_newest: bool = False
    """A replay from a time (--time) that no message of the partition is at or after: nothing to replay."""

    @property
    def offsets(self) -> int:
        return self.window.end - self.window.start if self.window else 0


@dataclass
class ReplayPlan:
    group: str
    routes: tuple[str, ...]
    partitions: list[PartitionPlan] = field(default_factory=list)
    resumed: int | None = None
    """The generation of the replay under way that running this again completes, or None for a new one."""
    members: list[Member] = field(default_factory=list)
    """The group's active members when planned: while there are any, the plan cannot be carried out."""

    @property
    def replayed(self) -> list[PartitionPlan]:
        return [p for p in self.partitions if p.window is not None]


def plan_replay(table: RouteTable, cluster: Cluster, redis: Redis[bytes], group: str, topics: Sequence[str],
                partitions: Sequence[int], target: Target, routes: Sequence[str],
                clock: Callable[[], float] = time.time) -> ReplayPlan:
    """What the replay would do; OperationRefused when it cannot run (members, unknown names, another replay,
    nothing to replay). `clock` (seconds) tells a --time in the future from one after the newest message."""
    group_routes = table.groups.get(group)
    if group_routes is None:
        raise OperationRefused(f"no group {group!r} in {table.config.file}; its groups: {', '.join(table.groups)}")
    chosen_topics = list(topics) or list(group_routes.spec.topics)
    unknown = [t for t in chosen_topics if t not in group_routes.by_topic]
    if unknown:
        raise OperationRefused(f"group {group!r} consumes no topic {', '.join(map(repr, unknown))}; its topics: "
                               f"{', '.join(group_routes.spec.topics)}")
    names = {r.name for t in chosen_topics for r in group_routes.by_topic[t]}
    missing = [r for r in routes if r not in names]
    if missing:
        raise OperationRefused(f"no route {', '.join(map(repr, missing))} on {', '.join(chosen_topics)} in group "
                               f"{group!r}; its routes there: {', '.join(sorted(names))}")
    members = cluster.members(group)
    counts = cluster.partitions(chosen_topics)
    absent = [t for t in chosen_topics if t not in counts]
    if absent:
        raise OperationRefused(f"topic {', '.join(map(repr, absent))} does not exist")
    tps = [TopicPartition(t, p) for t in chosen_topics for p in range(counts[t]) if not partitions or p in partitions]
    if not tps:
        raise OperationRefused(f"no partition {', '.join(map(str, partitions))} in {', '.join(chosen_topics)}")
    settings = table.config.redis_for(group)
    plan = _plan(group, tuple(routes), tps, target, cluster, MarkReader(redis, settings))
    if not plan.replayed:
        raise OperationRefused(nothing_to_replay(plan, target, clock()))
    plan.members = members
    return plan


def members_refusal(plan: ReplayPlan) -> str:
    """Why a plan made while the group had active members cannot be carried out, naming them ("" when none)."""
    members = plan.members
    if not members:
        return ""
    shown = "; ".join(str(m) for m in members[:5]) + (f"; and {len(members) - 5} more" if len(members) > 5 else "")
    return (f"group {plan.group!r} has {plural(len(members), 'active member')}: {shown}. Stop them first "
            "(systemctl stop karafkad): a running member goes on from where it is")


def _plan(group: str, routes: tuple[str, ...], tps: list[TopicPartition], target: Target, cluster: Cluster,
          marks: MarkReader) -> ReplayPlan:
    committed = cluster.committed(group)
    marks_read = marks.read(group, [(tp.topic, tp.partition) for tp in tps])
    earliest, latest = cluster.earliest(tps), cluster.latest(tps)
    at_time = cluster.at_time(tps, target.value) if target.kind == "time" else {}
    plan = ReplayPlan(group, routes)
    for tp in tps:
        found = at_time.get(tp)
        start = {"earliest": earliest[tp], "offset": min(max(target.value, earliest[tp]), latest[tp]),
                 "time": found if found is not None else latest[tp]}[target.kind]
        partition = marks_read[(tp.topic, tp.partition)]
        handled = max(committed.get(tp, 0), partition.mark + 1)
        entry = PartitionPlan(tp, committed.get(tp), handled, int(start or 0))
        window = partition.window
        if window is not None and committed.get(tp, 0) < window.end:
            if window.start != entry.target or set(window.routes) != set(routes):
                raise OperationRefused(
                    f"replay {window.generation} of group {group!r} is still under way on {tp.topic}[{tp.partition}] "
                    f"(at {committed.get(tp, 0)} of {window.start}..{window.end}, routes "
                    f"{', '.join(window.routes) or 'all'}): run it again the same way to complete it, or start the "
                    "daemon and let it finish first")
            entry.window, plan.resumed = window, window.generation
        elif target.kind == "time" and found is None:
            entry.after_newest = True
            entry.note = ("no message at or after that time: the partition is empty" if latest[tp] <= earliest[tp]
                          else f"no message at or after that time: the newest is at offset {latest[tp] - 1}")
        elif entry.target >= handled:
            entry.note = ("never consumed: nothing to replay" if handled == 0 else
                          f"the group has handled only up to {handled}: nothing to replay from {entry.target}")
        else:
            entry.window = ReplayWindow(0, entry.target, handled, routes)
        plan.partitions.append(entry)
    return plan


def nothing_to_replay(plan: ReplayPlan, target: Target, now: float) -> str:
    """Why a plan replays nothing: once, when a --time is after every partition's newest message (in the
    future, or only past the newest); else partition by partition (the first five)."""
    names = [f"{p.partition.topic}[{p.partition.partition}]" for p in plan.partitions]
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    if all(p.after_newest for p in plan.partitions):
        if target.value > now * 1000:
            return f"nothing to replay: that time is in the future; no message is at or after it ({shown})"
        return f"nothing to replay: that time is after the newest message of every partition ({shown})"
    return "nothing to replay: " + "; ".join(f"{name}: {p.note}" for name, p in zip(names, plan.partitions[:5],
                                                                                  strict=False))


def apply_replay(plan: ReplayPlan, cluster: Cluster, redis: Redis[bytes],
                 events_redis: Redis[bytes] | None = None) -> dict[TopicPartition, str | None]:
    """Write the windows (in the group's Redis), then move the committed offsets; per partition, None or the
    error that stopped it. The event goes to `events_redis` (the top-level Redis, whose status pages show it).
    OperationRefused, with nothing changed, when the group had active members."""
    if plan.members:
        raise OperationRefused(members_refusal(plan))
    generation = plan.resumed or int(redis.incr(replay_generation_key(plan.group)))
    with redis.pipeline(transaction=True) as pipe:
        for entry in plan.replayed:
            assert entry.window is not None
            entry.window = ReplayWindow(generation, entry.window.start, entry.window.end, plan.routes)
            key = replay_key(plan.group, entry.partition.topic, entry.partition.partition)
            pipe.delete(key)
            pipe.hset(key, mapping=entry.window.encode())  # type: ignore[arg-type]
            pipe.expire(key, WINDOW_TTL)
        pipe.execute()
    errors = cluster.commit(plan.group, {e.partition: e.target for e in plan.replayed})
    moved = sum(1 for e in plan.replayed if errors.get(e.partition) is None)
    summary = (f"replay {generation} of group {plan.group}: {plural(moved, 'partition')} moved back, "
               f"up to {plural(sum(e.offsets for e in plan.replayed), 'message')}, "
               f"routes {', '.join(plan.routes) or 'all'}")
    events.record(events_redis or redis, "replay", summary, group=plan.group)
    return {e.partition: errors.get(e.partition) for e in plan.replayed}
