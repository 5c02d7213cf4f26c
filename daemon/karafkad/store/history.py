"""The deployment's numbers over the last hours, kept in Redis with bounded memory, for the console's charts.

A series is a number per STEP seconds: messages consumed, jobs enqueued and
dead letters sent by a group (counts in the step: rates once divided by
STEP), a group's lag and an RQ queue's depth (readings). Every daemon adds
its own share: a count as the increase of its counter since its last sample
(HINCRBY, so the daemons of a group add up, and two samples in one step too);
a group's lag as its partitions' lag, replacing what it added to the same step
before (each daemon keeps what it added to the current step), so the step
holds the sum of the daemons' latest readings; a queue's depth is the same
for every daemon that reads it (HSET: the last one wins).

Memory is bounded by construction: a series is split in chunks of
CHUNK_STEPS steps, one hash each (`karafkad:history:SERIES:CHUNK`: step in the
chunk -> integer), which Redis keeps as a listpack (CHUNK_STEPS is below its
128-entry default), and each chunk expires KEPT seconds after its end. So a
series holds at most KEPT / (STEP * CHUNK_STEPS) + 1 chunks: 19 hashes of at
most 120 small integers (0.7 to 1 KB each: MEMORY USAGE of a full chunk on
Redis 7.0, counts of 3 to 6 digits, docs/operations.md), at most 19 KB per
series; a deployment with 10 groups and 10 queues keeps 50 series, about 1 MB. The names of the series written
lately are kept in `karafkad:history-series` (pruned after KEPT).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from redis import Redis

from karafkad.store.keys import HISTORY_SERIES_KEY, history_key

STEP = 10
"""Seconds one point of a series covers: a chart of the last hour has 360 points, of six hours 2,160."""
CHUNK_STEPS = 120
"""Steps per Redis hash (20 minutes): below Redis's hash-max-listpack-entries (128), so each chunk is stored
compactly, and a chart of six hours reads 19 hashes per series."""
KEPT = 6 * 3600
"""Seconds of history kept: a working day's shift back, as the console's longest chart."""

COUNTS = ("consumed", "enqueued", "dead_lettered")
"""What a group's series count: summed over the daemons and the samples of a step."""
READINGS = ("lag",)
"""What a group's series read: the sum over the daemons of each one's latest reading in the step."""


def series_name(kind: str, subject: str, what: str) -> str:
    """`group:consumed:shop`, `queue:depth:orders` (the subject last: a group's id may hold a colon)."""
    return f"{kind}:{what}:{subject}"


def parse_series(name: str) -> tuple[str, str, str] | None:
    """(kind, subject, what) of a series name, or None for a name karafkad did not make."""
    kind, _, rest = name.partition(":")
    what, _, subject = rest.partition(":")
    return (kind, subject, what) if kind and what and subject else None


@dataclass(frozen=True)
class Sample:
    """One daemon's numbers at one moment."""

    counters: Mapping[str, int]
    """Series -> the daemon's counter since it started (what it adds is the increase since its last sample)."""
    readings: Mapping[str, int]
    """Series -> the daemon's own reading (its partitions' lag), summed with the other daemons'."""
    shared: Mapping[str, int]
    """Series -> a reading every daemon makes alike (a queue's depth): the last one written stands."""


class HistoryWriter:
    """Adds one daemon's samples to the history (kept per daemon: its counters' last values, its readings'
    shares of the current step)."""

    def __init__(self, step: int = STEP, chunk_steps: int = CHUNK_STEPS, kept: int = KEPT) -> None:
        self.step = step
        self.chunk_steps = chunk_steps
        self.kept = kept
        self._counted: dict[str, int] = {}
        """Series -> the counter's value at the last sample written."""
        self._added: dict[str, tuple[int, int]] = {}
        """Series -> (step, what this daemon added to it) of its readings."""

    def write(self, client: Redis[bytes], sample: Sample, now: float) -> None:
        """Add `sample` to the step of `now`, in one round trip; raises what redis-py raises (then nothing of the
        sample counts as written: the next one adds the increase since the last written)."""
        step = int(now // self.step)
        chunk, slot = divmod(step, self.chunk_steps)
        ttl = self.kept + self.step * self.chunk_steps
        counted: dict[str, int] = {}
        added: dict[str, tuple[int, int]] = {}
        with client.pipeline(transaction=False) as pipe:
            for series, value in sample.counters.items():
                # A counter below its last value was reset (a reload's new metric): count from zero.
                last = self._counted.get(series, 0)
                increase = value - last if value >= last else value
                counted[series] = value
                # Written when 0 too: a step without a field is one no daemon sampled (a gap in the chart).
                pipe.hincrby(history_key(series, chunk), str(slot), increase)
            for series, value in sample.readings.items():
                at, before = self._added.get(series, (step, 0))
                change = value - (before if at == step else 0)
                added[series] = (step, value)
                pipe.hincrby(history_key(series, chunk), str(slot), change)
            for series, value in sample.shared.items():
                pipe.hset(history_key(series, chunk), str(slot), value)
            names = [*sample.counters, *sample.readings, *sample.shared]
            for series in names:
                pipe.expire(history_key(series, chunk), ttl)
            if names:
                pipe.zadd(HISTORY_SERIES_KEY, dict.fromkeys(names, now))
            pipe.zremrangebyscore(HISTORY_SERIES_KEY, "-inf", now - self.kept)
            pipe.execute()
        self._counted.update(counted)
        self._added.update(added)


Points = list[tuple[float, int]]
"""(the step's start in seconds since the epoch, its value), oldest first; steps without a value are left out."""


def read(client: Redis[bytes], since: float, now: float, step: int = STEP,
         chunk_steps: int = CHUNK_STEPS) -> dict[str, Points]:
    """Every series written since `since`, with the points of the steps starting from `since` to `now`. Two round
    trips."""
    names = [n.decode() if isinstance(n, bytes) else str(n)
             for n in client.zrangebyscore(HISTORY_SERIES_KEY, since, "+inf")]
    first, last = math.ceil(since / step), int(now // step)
    chunks = range(first // chunk_steps, last // chunk_steps + 1)
    with client.pipeline(transaction=False) as pipe:
        for name in names:
            for chunk in chunks:
                pipe.hgetall(history_key(name, chunk))
        answers = iter(pipe.execute())
    out: dict[str, Points] = {}
    for name in names:  # in the order the pipeline asked for them
        points: Points = []
        for chunk in chunks:
            for slot, value in next(answers).items():
                number = chunk * chunk_steps + int(slot)
                if first <= number <= last:
                    points.append((float(number * step), int(value)))
        out[name] = sorted(points)
    return dict(sorted(out.items()))
