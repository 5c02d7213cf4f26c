"""The figures docs/scaling.md builds its 1,000-partition plan on: what a rebalance costs, measured here.

- the assignors' own CPU on the group leader for 1,000 partitions and 100 members (kafka-python's
  range, roundrobin, sticky and cooperative-sticky, in this process: no broker needed);
- a fifth member joining four on a 24-partition topic, eager (range) and cooperative-sticky: how long
  until the group is stable again, how many partitions changed owner, and how long partitions had no
  owner at all (sampled every 50 ms from each daemon's /status.json);
- one of four static members restarted (SIGTERM, start again with the same instance id) against a
  dynamic member restarted: which partitions moved, and for how long partitions had no owner;
- the broker's CPU per offset commit (10 partitions each, as a member of a 1,000-partition group
  owning 10 commits them): the coordinator's load per commit request.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib.cpu import service_cpu, wait_until
from benchlib.daemons import Daemon, start_daemons
from benchlib.data import KAFKA, create_topic, routes_file, unique

PARTITIONS = 24
MEMBERS = 4
SAMPLE_SECONDS = 0.05


# --- the assignors' CPU -----------------------------------------------------------------------


@dataclass
class _Member:
    """What an assignor reads of a JoinGroup member."""

    member_id: str
    group_instance_id: str | None
    metadata: Any


class _Cluster:
    """The metadata an assignor reads: one topic and its partitions."""

    def __init__(self, topic: str, partitions: int) -> None:
        self.topic, self.partitions = topic, partitions

    def topics(self, exclude_internal_topics: bool = True) -> set[str]:
        return {self.topic}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self.partitions))


def assignor_cost(partitions: int = 1000, members: int = 100, repeats: int = 3) -> dict[str, Any]:
    """Milliseconds the group leader spends computing an assignment: from scratch, and with one member
    joining a group whose members own what they were given (what sticky assignors work from)."""
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor

    cluster, topics = _Cluster("orders", partitions), {"orders"}
    out: dict[str, Any] = {"partitions": partitions, "members": members}
    for name, cls in (("range", RangePartitionAssignor), ("roundrobin", RoundRobinPartitionAssignor),
                      ("sticky", StickyPartitionAssignor), ("cooperative-sticky", CooperativeStickyAssignor)):
        leader = cls()
        fresh = [_Member(f"m-{i:03d}", f"host-{i}", leader.metadata(topics)) for i in range(members)]
        first = _best_of(repeats, leader.assign, cluster, fresh)
        given = leader.assign(cluster, fresh)
        owning = []
        for member in fresh:
            own = cls()  # each member's assignor remembers what it owns and says so in its metadata
            own.on_assignment(given[member.member_id], 1)
            owning.append(_Member(member.member_id, member.group_instance_id, own.metadata(topics)))
        owning.append(_Member("m-new", "host-new", cls().metadata(topics)))
        joined = _best_of(repeats, leader.assign, cluster, owning)
        after = leader.assign(cluster, owning)
        kept = sum(len(set(given[m.member_id].partitions()) & set(after[m.member_id].partitions())) for m in fresh)
        out[name] = {"fresh_ms": first * 1000, "one_joins_ms": joined * 1000, "kept_by_old_members": kept}
    return out


def _best_of(repeats: int, run: Any, *args: Any) -> float:
    """The fastest of `repeats` calls, in seconds (the least disturbed by the rest of the machine)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run(*args)
        best = min(best, time.perf_counter() - started)
    return best


# --- rebalances, observed from the daemons ------------------------------------------------------


def _all_own_some(daemons: list[Daemon]) -> bool:
    """Every partition is owned and every daemon owns some (each daemon's status read once)."""
    owned = [_owned(d) for d in daemons]
    return sum(map(len, owned)) == PARTITIONS and all(owned)


def _owned(daemon: Daemon) -> set[str]:
    """The partitions a daemon's threads own now (its /status.json)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon.port}/status.json", timeout=2) as response:
            status = json.loads(response.read())
    except OSError:
        return set()
    return {p for group in status["groups"].values() for t in group["threads"] for p in t["partitions"]}


@dataclass
class _Timeline:
    """Who owned what, sampled: (monotonic time, one set of partitions per daemon)."""

    samples: list[tuple[float, list[set[str]]]]
    topic: str

    def changed_at(self) -> float | None:
        first = self.samples[0][1]
        return next((t for t, owned in self.samples if owned[:len(first)] != first), None)

    def unowned(self) -> tuple[float, float]:
        """The longest time one partition had no owner, and partition-seconds without an owner in all."""
        longest, total = 0.0, 0.0
        since: dict[str, float] = {}
        for (t, owned), (t_next, _) in zip(self.samples, self.samples[1:], strict=False):
            holders = set().union(*owned)
            for n in range(PARTITIONS):
                name = f"{self.topic}[{n}]"
                if name in holders:
                    since.pop(name, None)
                    continue
                since.setdefault(name, t)
                longest = max(longest, t_next - since[name])
                total += t_next - t
        return longest, total


def _watch(daemons: list[Daemon], topic: str, until: Any, seconds: float = 90) -> _Timeline:
    samples: list[tuple[float, list[set[str]]]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append((time.monotonic(), [_owned(d) for d in daemons]))
        if until(samples):
            break
        time.sleep(SAMPLE_SECONDS)
    return _Timeline(samples, topic)


def _stable(samples: list[tuple[float, list[set[str]]]], members: int, quiet: float = 2.0) -> bool:
    """Every partition owned once, by `members` daemons each owning some, unchanged for `quiet` seconds."""
    now, last = samples[-1]
    owned = [o for o in last if o]
    if len(owned) != members or sum(map(len, owned)) != PARTITIONS or len(set().union(*owned)) != PARTITIONS:
        return False
    return all(o == last for t, o in samples if now - t <= quiet) and samples[0][0] <= now - quiet


def _summary(timeline: _Timeline, before: list[set[str]], started: float) -> dict[str, Any]:
    changed = timeline.changed_at()
    _, after = timeline.samples[-1]
    settled = next(t for t, o in timeline.samples if o == after)
    moved = sum(1 for i, owned in enumerate(before) for p in owned if p not in after[i])
    longest, total = timeline.unowned()
    return {"seconds_from_start": settled - started, "seconds_rebalancing": settled - (changed or settled),
            "moved": moved, "longest_unowned_s": longest, "unowned_partition_seconds": total}


def join_cost(workdir: Path, strategy: str) -> dict[str, Any]:
    """A fifth daemon joins four (1 thread each) on a 24-partition topic."""
    topic, group = unique("plan"), unique(f"plan-{strategy}")
    create_topic(topic, PARTITIONS)
    config = routes_file(workdir, group, topic, unique("plan"), 1,
                         group_options={"assignment_strategy": strategy})
    daemons = start_daemons(config, MEMBERS, workdir, group, PARTITIONS)
    try:
        before = [_owned(d) for d in daemons]
        started = time.monotonic()
        daemons.append(Daemon(config, workdir / f"{group}-joining.log"))
        timeline = _watch(daemons, topic, lambda s: _stable(s, MEMBERS + 1) and bool(s[-1][1][-1]))
        return {"strategy": strategy, **_summary(timeline, [*before, set()], started)}
    finally:
        for daemon in daemons:
            daemon.stop()


def restart_cost(workdir: Path, static: bool) -> dict[str, Any]:
    """One of four daemons is stopped (SIGTERM) and started again: static members keep their partitions."""
    topic, group = unique("plan"), unique("plan-static" if static else "plan-dynamic")
    create_topic(topic, PARTITIONS)
    config = routes_file(workdir, group, topic, unique("plan"), 1)
    ids = [f"plan-host-{i}" for i in range(MEMBERS)] if static else [None] * MEMBERS
    daemons = [Daemon(config, workdir / f"{group}-{i}.log", instance_id=ids[i]) for i in range(MEMBERS)]
    try:
        wait_until(lambda: _all_own_some(daemons), f"karafkad ({group}; logs in {workdir})")
        time.sleep(1)
        before = [_owned(d) for d in daemons]
        started = time.monotonic()
        daemons[1].stop()
        daemons[1] = Daemon(config, workdir / f"{group}-1-again.log", instance_id=ids[1])
        timeline = _watch(daemons, topic, lambda s: _stable(s, MEMBERS) and bool(s[-1][1][1]))
        others_moved = sum(1 for i, owned in enumerate(before) if i != 1 for p in owned
                           if any(p not in o[i] for _, o in timeline.samples))
        return {"static": static, **_summary(timeline, before, started), "others_lost_a_partition": others_moved}
    finally:
        for daemon in daemons:
            daemon.stop()


def commit_cost(commits: int = 10_000, warmup: int = 5_000, partitions: int = 10) -> dict[str, Any]:
    """The broker's CPU per offset commit request carrying `partitions` offsets, sent one after another,
    after `warmup` commits (the JVM compiles the path first: the first thousands cost several times more)
    and less what the broker spends idle (measured for 3 s before)."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    topic = unique("plan-commits")
    create_topic(topic, partitions)
    consumer = KafkaConsumer(bootstrap_servers=KAFKA, group_id=unique("plan-commits"), enable_auto_commit=False)
    owned = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(owned)

    def commit(n: int) -> None:
        consumer.commit({tp: OffsetAndMetadata(n, "", -1) for tp in owned})

    try:
        for n in range(warmup):
            commit(n)
        idle_from = service_cpu("kafka")
        time.sleep(3)
        idle_per_second = (service_cpu("kafka") - idle_from) / 3
        broker, started = service_cpu("kafka"), time.monotonic()
        for n in range(commits):
            commit(warmup + n)
        wall = time.monotonic() - started
        cpu = service_cpu("kafka") - broker - idle_per_second * wall
    finally:
        consumer.close()
    return {"commits": commits, "partitions_per_commit": partitions, "broker_us_per_commit": cpu / commits * 1e6,
            "ms_per_commit_round_trip": wall / commits * 1000, "broker_idle_cores": idle_per_second}
