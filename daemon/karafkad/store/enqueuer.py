"""Write a poll's jobs to Redis in one atomic round trip, never twice.

One Lua script per batch does, for each partition: read the partition's mark
(the highest offset already handled, kept for `dedupe_window` seconds), write
and queue only the jobs above it, and move the mark to the batch's last
offset. Because the check and the write are one atomic step, a message that
comes back after a crash between enqueue and commit, or after a rebalance,
never becomes a second job, even when RQ already ran and deleted the first
one (RQ's own `unique=True` only lasts as long as the job hash does).

A job due later (the route's job.delay or job.at) is written the same way
but goes into RQ's scheduled-job registry (`rq:scheduled:QUEUE`, scored by
its due time) instead of its queue, as RQ's own Queue.enqueue_at does; RQ's
scheduler moves it to the queue when it is due.

A mark above the partition's log end cannot be right (the topic was deleted
and recreated): the script then starts the partition afresh.

Two writes of one consumer may be in flight at once (consuming/delivery.py).
The rule that keeps that from losing anything: a later batch's mark must
never land before an earlier batch of the same partition is written, or a
retry of the earlier one, should its write fail, would find its jobs at or
below the mark and take them for duplicates. So a partition's part of a
write may name the offset its earlier batch ends at (`after`): the script
writes that part only if the mark already reaches it, and otherwise leaves
the part out entirely (no job, no mark) and says so (`WriteResult.held`), to
be written again once the earlier batch is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from typing import Any

import redis
from redis import Redis

from karafkad.clients.redis.connection import describe
from karafkad.config.settings import RedisSettings
from karafkad.errors import EnqueueError, ReplicasBehind
from karafkad.pipeline.outcomes import JobNaming, PendingJob
from karafkad.routes.jobs import VARYING_FIELDS, JobTemplate, rq_timestamp
from karafkad.store.keys import JOB_KEY_PREFIX, QUEUES_KEY, done_key, mark_key, queue_key, replay_key, scheduled_key
from karafkad.store.replays import ReplayWindow

ScriptArg = str | int | float | bytes
"""One argument of the Lua script (Redis receives them all as strings)."""

_SCRIPT = """
-- KEYS: rq:queues, the job key prefix
-- ARGV: dedupe window, created_at, template count,
--       per template: queue key, at_front, ttl, scheduled registry key ('' for the queue itself),
--         field count, fields (name, value)...,
--       then per partition: mark key, 'm' (a mark: jobs in offset order) or 'e' (a set of the offsets done),
--         last offset, highwater, after (-1, or the offset the mark must already reach for this part to be
--         written; if it does not, the part is held: left out whole, and its number returned), run count,
--         per run (the jobs of one route, see pipeline/outcomes.py's JobNaming): template number for a job
--           due now, template number for a job due later (0: none), id head, id tail, description head,
--           what each job carries besides its offset and data ('i' its id, 'd' its description, 't' its
--           due time, in that order), job count,
--           per job: offset, data, then what the run says it carries.
--         A job's id is id head .. offset .. id tail and its description description head .. offset,
--         unless it carries its own.
local window = tonumber(ARGV[1])
local created = ARGV[2]
local template_count = tonumber(ARGV[3])
local i = 4
local templates = {}
for t = 1, template_count do
  local registry = ARGV[i + 3]
  local field_count = tonumber(ARGV[i + 4])
  -- The HSET arguments of this template's jobs: key, its fields, then data, created_at,
  -- (for a queued job) enqueued_at, and description; key, data and description are filled in per job.
  local fields = {''}
  for f = 1, 2 * field_count do
    fields[f + 1] = ARGV[i + 4 + f]
  end
  local size = #fields
  fields[size + 1] = 'data'
  fields[size + 2] = ''
  fields[size + 3] = 'created_at'
  fields[size + 4] = created
  if registry == '' then
    fields[size + 5] = 'enqueued_at'
    fields[size + 6] = created
  end
  fields[#fields + 1] = 'description'
  fields[#fields + 1] = ''
  templates[t] = {ARGV[i], ARGV[i + 1] == '1', tonumber(ARGV[i + 2]), fields, {}, registry, size + 2}
  redis.call('SADD', KEYS[1], ARGV[i])
  i = i + 5 + 2 * field_count
end
local job_prefix = KEYS[2]
local written = 0
local duplicates = {}
local held = {}
local n = #ARGV
local index = 0
local part = 0
while i <= n do
  local mark_key = ARGV[i]
  local each = ARGV[i + 1] == 'e'
  local last = tonumber(ARGV[i + 2])
  local highwater = tonumber(ARGV[i + 3])
  local after = tonumber(ARGV[i + 4])
  local runs = tonumber(ARGV[i + 5])
  i = i + 6
  local mark = -1
  local hold = false
  if not each then
    mark = tonumber(redis.call('GET', mark_key) or '-1')
    if highwater >= 0 and mark >= highwater then
      mark = -1
    end
    -- An earlier batch of this partition is not written yet: this part must not land first.
    hold = after >= 0 and mark < after
  end
  if hold then
    held[#held + 1] = part
  end
  for _ = 1, runs do
    local now_template = templates[tonumber(ARGV[i])]
    local later_template = templates[tonumber(ARGV[i + 1])]
    local id_head, id_tail, description_head = ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
    local carries = ARGV[i + 5]
    local own_id = string.find(carries, 'i', 1, true) ~= nil
    local own_description = string.find(carries, 'd', 1, true) ~= nil
    local timed = string.find(carries, 't', 1, true) ~= nil
    local jobs = tonumber(ARGV[i + 6])
    i = i + 7
    for _ = 1, jobs do
      local offset = ARGV[i]
      local data = ARGV[i + 1]
      i = i + 2
      local job_id
      if own_id then
        job_id = ARGV[i]
        i = i + 1
      else
        job_id = id_head .. offset .. id_tail
      end
      local description
      if own_description then
        description = ARGV[i]
        i = i + 1
      else
        description = description_head .. offset
      end
      local due = 0
      if timed then
        due = tonumber(ARGV[i])
        i = i + 1
      end
      local fresh
      if hold then
        fresh = false
      elseif each then
        -- A set of offsets done, for jobs made out of order (re-driven dead letters)
        fresh = redis.call('HSETNX', mark_key, offset, '1') == 1
      else
        fresh = tonumber(offset) > mark
      end
      if hold then
        -- left out: neither written nor a duplicate
      elseif fresh then
        local template = now_template
        if due > 0 then
          template = later_template
        end
        local key = job_prefix .. job_id
        -- One HSET per job: the template's fields, then this job's
        local args = template[4]
        args[1] = key
        args[template[7]] = data
        args[#args] = description
        redis.call('HSET', unpack(args))
        if template[3] > 0 then
          redis.call('EXPIRE', key, template[3])
        end
        if template[6] == '' then
          local queued = template[5]
          queued[#queued + 1] = job_id
        else
          -- RQ's ScheduledJobRegistry: its scheduler moves the job to the queue when due
          redis.call('ZADD', template[6], due, job_id)
        end
        written = written + 1
      else
        duplicates[#duplicates + 1] = index
      end
      index = index + 1
    end
  end
  if hold then
    -- the mark stays where the earlier batch will move it
  elseif each or last <= mark then
    redis.call('EXPIRE', mark_key, window)
  else
    redis.call('SET', mark_key, last, 'EX', window)
  end
  part = part + 1
end
-- Queue the ids per template, a few hundred per push (unpack has a stack limit).
for _, template in ipairs(templates) do
  local queued = template[5]
  local push = template[2] and 'LPUSH' or 'RPUSH'
  for first = 1, #queued, 500 do
    redis.call(push, template[1], unpack(queued, first, math.min(first + 499, #queued)))
  end
end
return {written, duplicates, held}
"""


MarkId = tuple[str, str, int, str]
"""(group, topic, partition, stream): one dedupe mark."""


@dataclass(slots=True)
class PartitionWrite:
    """One partition's part of a batch write."""

    group: str
    topic: str
    partition: int
    last_offset: int
    """Highest offset handled in this batch, jobs or not; becomes the partition's mark."""
    jobs: Sequence[PendingJob] = field(default_factory=list)
    highwater: int = -1
    """The partition's log end offset as last seen, or -1 when unknown."""
    stream: str = ""
    """Which of the partition's dedupe marks: "" for the group's consumption, `rN` for replay N (see
    store/replays.py)."""
    each: bool = False
    """Dedupe offset by offset (a set of the offsets done, `karafkad:done:...`) instead of by a mark: for jobs
    made out of order, such as re-driven dead letters (their offsets are their messages' of origin)."""
    after: int = -1
    """Write this part only if the mark already reaches this offset (the end of an earlier batch of the
    partition still in flight), else hold it (see the module docstring); -1: no condition."""

    @property
    def key(self) -> str:
        """Its mark, or its done set when it dedupes offset by offset."""
        naming = done_key if self.each else mark_key
        return naming(self.group, self.topic, self.partition, self.stream)


@dataclass(frozen=True)
class WriteResult:
    written: int
    duplicates: tuple[PendingJob, ...]
    seconds: float
    held: tuple[int, ...] = ()
    """The positions (in the order given to write) of the parts held back because their `after` was not
    reached: nothing of them was written."""


_OFFSET_AND_DATA = attrgetter("offset", "data")


def _runs(jobs: Sequence[PendingJob]) -> list[tuple[JobNaming, list[PendingJob]]]:
    """A partition's jobs by naming (one run per route), each run in offset order."""
    if not jobs:
        return []
    first = jobs[0].naming
    if all(job.naming is first for job in jobs):  # one route: no grouping per job
        return [(first, list(jobs))]
    runs: dict[JobNaming, list[PendingJob]] = {}
    for job in jobs:
        runs.setdefault(job.naming, []).append(job)
    return list(runs.items())


def _carries(naming: JobNaming) -> str:
    """What each job of the run carries besides offset and data (the script's letters)."""
    return ("i" if naming.own_ids else "") + ("d" if naming.own_descriptions else "") + ("t" if naming.timed else "")


class _Templates:
    """The templates of one script call, each sent once (queued and scheduled are two), numbered from 1."""

    def __init__(self) -> None:
        self.head: list[ScriptArg] = []
        self.count = 0
        self._numbers: dict[tuple[int, bool], int] = {}

    def number(self, template: JobTemplate, scheduled: bool) -> int:
        key = (id(template), scheduled)
        number = self._numbers.get(key)
        if number is None:
            number = self._numbers[key] = self.add(
                template, template.scheduled_fields if scheduled else template.fields, scheduled)
        return number

    def add(self, template: JobTemplate, fields: dict[str, Any], scheduled: bool) -> int:
        self.head.extend((queue_key(template.queue), 1 if template.at_front else 0, template.ttl or 0,
                          scheduled_key(template.queue) if scheduled else "", len(fields)))
        for name, value in fields.items():
            self.head.extend((name, value))
        self.count += 1
        return self.count


class Enqueuer:
    """Writes batches of jobs (and partition marks) to Redis."""

    def __init__(self, client: Redis[bytes], dedupe_window: int,
                 clock: Callable[[], float] = time.perf_counter, settings: RedisSettings | None = None, *,
                 min_replicas: int = 0, replica_timeout_ms: int = 1000) -> None:
        """`settings` are the client's, for the words of an error (the TLS files a failure is about)."""
        self.client = client
        self.window = dedupe_window
        self.clock = clock
        self.settings = settings
        self.min_replicas = min_replicas
        """Replicas that must acknowledge a batch (Redis's WAIT) before it counts as written; 0: the primary's
        word is enough."""
        self.replica_timeout_ms = replica_timeout_ms
        self._script = client.register_script(_SCRIPT)

    @classmethod
    def for_settings(cls, client: Redis[bytes], settings: RedisSettings) -> Enqueuer:
        """An enqueuer as a routes file's Redis section sets it: its dedupe window and replica acknowledgements."""
        return cls(client, settings.dedupe_window, settings=settings, min_replicas=settings.min_replicas_acked,
                   replica_timeout_ms=settings.replica_ack_timeout_ms)

    def write(self, partitions: Iterable[PartitionWrite]) -> WriteResult:
        """Write every job above its partition's mark, atomically; EnqueueError when Redis fails.

        On EnqueueError nothing may be assumed written, and nothing is
        double-written by trying again: the marks make the write idempotent.
        """
        started = self.clock()
        created = rq_timestamp()
        templates = _Templates()
        body: list[ScriptArg] = []
        ordered: list[PendingJob] = []
        for part in partitions:
            runs = _runs(part.jobs)
            body += [part.key, "e" if part.each else "m", part.last_offset, part.highwater, part.after, len(runs)]
            for naming, jobs in runs:
                template = naming.template
                if template.rq_job is not None:  # outside the compared RQ range: RQ builds every hash
                    for job in jobs:
                        full = template.rq_job(job.args, job.description, job.at > 0)
                        number = templates.add(template, {k: v for k, v in full.items() if k not in VARYING_FIELDS},
                                               job.at > 0)
                        body += (number, number, "", "", "", "idt", 1, job.offset, full["data"], job.job_id,
                                 job.description, job.at)
                    ordered += jobs
                    continue
                carries = _carries(naming)
                body += (templates.number(template, False), templates.number(template, True) if naming.timed else 0,
                         naming.id_head, naming.id_tail, naming.description_head, carries, len(jobs))
                if carries:
                    for job in jobs:
                        body += (job.offset, job.data)
                        if naming.own_ids:
                            body.append(job.job_id)
                        if naming.own_descriptions:
                            body.append(job.description)
                        if naming.timed:
                            body.append(job.at)
                else:
                    # The common run: two arguments a job, gathered in C. With six arguments a job built
                    # here in Python, this method and redis-py's packing took 1.0 µs a message; now 0.4
                    # (50,000 in-memory messages in batches of 500, docs/benchmarks.md).
                    body.extend(chain.from_iterable(map(_OFFSET_AND_DATA, jobs)))
                ordered += jobs
        if not body:
            return WriteResult(0, (), 0.0)
        argv = [self.window, created, templates.count, *templates.head, *body]
        with self.failures():
            if self.min_replicas:
                written, duplicates, held = self._replicated(argv)
            else:
                written, duplicates, held = self._script(keys=[QUEUES_KEY, JOB_KEY_PREFIX], args=argv)
        return WriteResult(int(written), tuple(ordered[int(i)] for i in duplicates), self.clock() - started,
                           tuple(int(p) for p in held))

    def _replicated(self, argv: list[ScriptArg]) -> Any:
        """The script, then WAIT on the same connection (WAIT counts the writes of its own connection):
        ReplicasBehind when fewer replicas than required acknowledged them within the timeout."""
        with self.client.pipeline(transaction=False) as pipe:
            self._script(keys=[QUEUES_KEY, JOB_KEY_PREFIX], args=argv, client=pipe)
            pipe.wait(self.min_replicas, self.replica_timeout_ms)
            answer, acknowledged = pipe.execute()
        if int(acknowledged) < self.min_replicas:
            raise ReplicasBehind(f"Redis: {acknowledged} of the {self.min_replicas} replica(s) required "
                                 f"(redis.min_replicas_acked) acknowledged the batch within "
                                 f"{self.replica_timeout_ms} ms; it is not committed and is written again")
        return answer

    def marks(self, keys: Sequence[MarkId]) -> dict[MarkId, int]:
        """The current marks of (group, topic, partition, stream)s; -1 where none. EnqueueError when Redis fails."""
        if not keys:
            return {}
        with self.failures():
            values = self.client.mget([mark_key(*k) for k in keys])
        return {k: int(v) if v is not None else -1 for k, v in zip(keys, values, strict=True)}

    def replay_windows(self, group: str, partitions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], ReplayWindow]:
        """The replay windows of these (topic, partition)s of `group` (see replays.py); EnqueueError when Redis
        fails."""
        if not partitions:
            return {}
        with self.failures(), self.client.pipeline(transaction=False) as pipe:
            for topic, partition in partitions:
                pipe.hgetall(replay_key(group, topic, partition))
            found = pipe.execute()
        windows = {}
        for key, fields in zip(partitions, found, strict=True):
            window = ReplayWindow.decode(fields) if fields else None
            if window is not None:
                windows[key] = window
        return windows

    def queue_lengths(self, queues: Sequence[str]) -> dict[str, int]:
        """Jobs waiting in each RQ queue; EnqueueError when Redis fails."""
        with self.failures(), self.client.pipeline(transaction=False) as pipe:
            for name in queues:
                pipe.llen(queue_key(name))
            lengths = pipe.execute()
        return dict(zip(queues, (int(n) for n in lengths), strict=True))

    @contextmanager
    def failures(self) -> Iterator[None]:
        """Redis's failures in the block as EnqueueError, in words (the address; a TLS or login cause)."""
        try:
            yield
        except redis.RedisError as exc:
            raise EnqueueError(f"Redis: {describe(exc, self.settings)}") from exc
