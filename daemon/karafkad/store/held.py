"""Held keys: on an ordered route, the keys whose later jobs wait behind a job that failed for good.

A route with `ordering` writes each job to wait for the one before it of its key (RQ's job dependencies, see
store/enqueue.lua). On `on_failure: hold` (the default) a job that failed after its RQ retries stays in RQ's
FailedJobRegistry and the jobs after it stay deferred: its key is held, the other keys keep flowing. A failed
job holds its key while jobs wait for it (its dependents set is not empty) or while it is its chain's last job
(the key's next message would wait for it; on a hold route only: a skip route's next job runs all the same).

`find_held` finds them (for `karafkad held list`, the status page and the metric) in one round trip per
queue whatever their number (held_scan.lua judges the failed jobs inside Redis). `skip` queues the jobs waiting for
one and leaves it failed (skip_held.lua: one atomic step); `retry` runs it again with RQ's own requeue, and the
worker that finishes it releases the rest in order, as RQ does for any job with dependents.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from redis import Redis
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.registry import FailedJobRegistry

from karafkad import defaults
from karafkad.config.settings import RedisSettings
from karafkad.routes.jobs import rq_timestamp
from karafkad.routes.table import Route
from karafkad.store.failures import redis_failures
from karafkad.store.keys import (
    CHAIN_PREFIX,
    DEFERRED_KEY_PREFIX,
    FAILED_KEY_PREFIX,
    JOB_KEY_PREFIX,
    QUEUE_KEY_PREFIX,
    RESULTS_KEY_PREFIX,
    failed_key,
    job_key,
)
from karafkad.text import printable
from karafkad.times import epoch_ms, utc_ms

SCAN_SCRIPT = resources.files("karafkad.store").joinpath("held_scan.lua").read_text("utf-8")
"""held_scan.lua, read once."""
SKIP_SCRIPT = resources.files("karafkad.store").joinpath("skip_held.lua").read_text("utf-8")
"""skip_held.lua, read once."""
_FAILED_RESULT = b"2"
"""RQ's Result.Type.FAILED, as a result stream entry's `type`."""


@dataclass(frozen=True)
class HeldKey:
    """One held key: where it is, the failed job that holds it, and how many jobs wait behind it."""

    group: str
    route: str
    topic: str
    partition: int
    chain: bytes
    """`k:` and the message key, or `p`: the partition's chain (a null key, or a route ordered by partition)."""
    job_id: str
    """The failed job (in RQ's FailedJobRegistry of its queue)."""
    failed_at: int
    """When it failed (RQ's `ended_at`), in ms since the epoch; 0 when the job does not say."""
    error: str
    """The last line of its exception (`ValueError: no such customer`), '' when RQ kept none."""
    waiting: int
    """Jobs waiting behind it, counted up to WAITING_COUNT_LIMIT."""
    counted_all: bool = True
    """False when more than `waiting` wait (the count stopped at its limit)."""
    ordering: str = "key"
    """The route's ordering (`key` or `partition`), which says what the chain `p` is."""

    @property
    def key(self) -> bytes | None:
        """The message key, or None for the partition's chain."""
        return self.chain[2:] if self.chain.startswith(b"k:") else None

    @property
    def shown_key(self) -> str:
        """The key as people read it: its text (other bytes escaped), `(null key)` or `(partition)`."""
        key = self.key
        if key is not None:
            return printable(key)
        return "(partition)" if self.ordering == "partition" else "(null key)"

    @property
    def shown_waiting(self) -> str:
        """`3`, or `100+` when the count stopped at its limit."""
        return f"{self.waiting}" + ("" if self.counted_all else "+")

    def as_dict(self) -> dict[str, Any]:
        """As /status.json, `held list --json` and the events show it."""
        return {"group": self.group, "route": self.route, "topic": self.topic, "partition": self.partition,
                "key": self.shown_key, "job": self.job_id, "failed_at": utc_ms(self.failed_at),
                "failed_at_ms": self.failed_at, "error": self.error,
                "waiting": self.waiting, "counted_all": self.counted_all}


@dataclass
class HeldScan:
    """What one look for held keys found."""

    keys: list[HeldKey] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=dict)
    """Queue -> failed jobs in its registry."""
    read: dict[str, int] = field(default_factory=dict)
    """Queue -> failed jobs read (at most the scan's limit, the newest)."""

    @property
    def unread(self) -> dict[str, int]:
        """Queue -> failed jobs left unread (older than those read): a key they hold is not among `keys`."""
        return {queue: count - self.read.get(queue, 0) for queue, count in self.failed.items()
                if count > self.read.get(queue, 0)}


def _place(chain_key: str) -> tuple[str, int] | None:
    """(job id prefix, partition) of a chain hash's key, `karafkad:chain:<prefix>:<partition>`."""
    if not chain_key.startswith(CHAIN_PREFIX):
        return None
    prefix, _, partition = chain_key[len(CHAIN_PREFIX):].rpartition(":")
    return (prefix, int(partition)) if partition.isdigit() else None


def _moment(rq_time: str) -> int:
    """ms since the epoch of an RQ timestamp (`2026-11-30T08:00:00.123456Z`); 0 for none or garbage."""
    try:
        return epoch_ms(rq_time) if rq_time else 0
    except ValueError:
        return 0


def last_line(text: str) -> str:
    """The last line that says something: a traceback's exception."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def error_line(kind: bytes, exc_string: bytes, exc_info: bytes) -> str:
    """The exception of a failed job: its latest result's when that is a failure (RQ 3 keeps it in the results
    stream, b64 of a zlib stream), or else the `exc_info` of its hash (earlier RQ: a zlib stream, or plain text)."""
    text = ""
    if exc_string and kind == _FAILED_RESULT:
        try:
            text = zlib.decompress(base64.b64decode(exc_string)).decode("utf-8", "replace")
        except (binascii.Error, zlib.error):
            text = ""
    if not text and exc_info:
        try:
            text = zlib.decompress(exc_info).decode("utf-8", "replace")
        except zlib.error:
            text = exc_info.decode("utf-8", "replace")
    return last_line(text)


def find_held(client: Redis[bytes], routes: Iterable[Route], settings: RedisSettings | None = None, *,
              scan_limit: int = defaults.FAILED_SCAN_LIMIT,
              count_limit: int = defaults.WAITING_COUNT_LIMIT) -> HeldScan:
    """The held keys of the ordered `routes` (all on this Redis); EnqueueError when Redis fails.

    One round trip per queue: held_scan.lua reads the newest `scan_limit` failed jobs of its registry and
    answers those that hold their key, with what is known of each. Measured (a loaded 2-core machine) with 1,000
    failed jobs of which 100 held a key with 3 jobs behind each: 11 ms of Redis's time, 12 to 14 ms in all; the
    same reads pipelined from here took 60 ms, nearly all of it redis-py building and reading 4,000 commands.
    """
    ordered = _ordered(routes)
    scan = HeldScan()
    with redis_failures(settings):
        for queue in sorted({route.template.queue for route in ordered}):
            total, read, found = _scan(client, [r for r in ordered if r.template.queue == queue],
                                       failed_key(queue), scan_limit, count_limit=count_limit)
            scan.failed[queue], scan.read[queue] = total, read
            scan.keys += found
    return scan


def held_jobs(client: Redis[bytes], routes: Iterable[Route], job_ids: Sequence[str],
              settings: RedisSettings | None = None) -> dict[str, HeldKey | str]:
    """For each of `job_ids`, the key it holds, or why it holds none; EnqueueError when Redis fails."""
    ordered = _ordered(routes)
    queues = {job_id: next((route.template.queue for route in ordered for prefix in route.id_prefixes.values()
                            if job_id.startswith(f"{prefix}-")), None) for job_id in job_ids}
    with redis_failures(settings):
        with client.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hget(job_key(job_id), "status")
                pipe.zscore(failed_key(queues[job_id] or ""), job_id)
            answers = iter(pipe.execute())
        found: dict[str, HeldKey | str] = {}
        for job_id in job_ids:
            status, score = next(answers), next(answers)
            if queues[job_id] is None:
                found[job_id] = "no job of an ordered route of the routes file"
            elif status is None:
                found[job_id] = "no such job (RQ deleted it, or it never was)"
            elif score is None:
                found[job_id] = f"not failed (its status: {status.decode()})"
        failed = [job_id for job_id in job_ids if job_id not in found]
        held = {key.job_id: key for key in _scan(client, ordered, "", 0, failed)[2]} if failed else {}
    for job_id in failed:
        found[job_id] = held.get(job_id) or ("failed, but no job waits for it and it is not its key's last job "
                                             "(skipped before?)")
    return {job_id: found[job_id] for job_id in job_ids}


def _ordered(routes: Iterable[Route]) -> list[Route]:
    return [route for route in routes if route.spec.ordered]


def _scan(client: Redis[bytes], routes: Sequence[Route], registry: str, limit: int, ids: Sequence[str] = (), *,
          count_limit: int = defaults.WAITING_COUNT_LIMIT) -> tuple[int, int, list[HeldKey]]:
    """held_scan.lua on the newest `limit` jobs of the failed `registry` ('' for none) and on `ids`: (jobs in the
    registry, how many were read, the keys the jobs of `routes` hold)."""
    by_prefix = {prefix: (route, topic) for route in routes for topic, prefix in route.id_prefixes.items()}
    heads: list[str | int] = []
    for prefix, (route, _) in by_prefix.items():
        heads += [prefix, 1 if route.spec.on_failure == "hold" else 0]
    answer = client.register_script(SCAN_SCRIPT)(
        keys=[JOB_KEY_PREFIX, RESULTS_KEY_PREFIX],
        args=[registry, limit, count_limit, defaults.WAITING_COUNT_BUDGET, len(by_prefix), *heads, *ids])
    total, read, rest = int(answer[0]), int(answer[1]), answer[2:]
    found = []
    for at in range(0, len(rest), 8):
        job_id, chain_field, ended_at, waiting, complete, kind, exc_string, exc_info = rest[at:at + 8]
        chain_key, _, chain = chain_field.partition(b"\n")
        place = _place(chain_key.decode("utf-8", "replace"))
        if place is None or place[0] not in by_prefix:
            continue  # its hash names another route's chain: not one of these routes' keys
        route, topic = by_prefix[place[0]]
        found.append(HeldKey(route.spec.group, route.name, topic, place[1], chain, job_id.decode(),
                             _moment(ended_at.decode()), error_line(kind, exc_string, exc_info), int(waiting),
                             int(complete) == 1, route.spec.ordering))
    return total, read, found


@dataclass(frozen=True)
class Release:
    """What `skip` or `retry` did to one failed job."""

    job_id: str
    refused: str = ""
    """Why nothing was done ('' when it was)."""
    queued: tuple[str, ...] = ()
    """skip: the jobs that waited for it, queued now."""
    untied: bool = False
    """skip: it was its key's last job, and no longer is: the key's next message is queued at once."""


class HeldKeys:
    """Releases held keys on one Redis: skip (the rest run, the failed job stays failed) or retry."""

    def __init__(self, client: Redis[bytes], settings: RedisSettings | None = None) -> None:
        self.client = client
        self.settings = settings
        self._skip = client.register_script(SKIP_SCRIPT)

    def skip(self, job_id: str) -> Release:
        """Queue the jobs waiting for the failed `job_id`, which stays in RQ's failed registry; refused (nothing
        changed) unless it is a failed job of an ordered route. EnqueueError when Redis fails."""
        with redis_failures(self.settings):
            answer = self._skip(keys=[JOB_KEY_PREFIX], args=[job_id, rq_timestamp(), FAILED_KEY_PREFIX,
                                                             DEFERRED_KEY_PREFIX, QUEUE_KEY_PREFIX])
        outcome = answer[0].decode()
        if outcome == "skipped":
            return Release(job_id, queued=tuple(i.decode() for i in answer[2:]), untied=int(answer[1]) == 1)
        if outcome == "not-failed":
            return Release(job_id, f"not failed (its status: {answer[1].decode() or 'none'}): it holds no key")
        if outcome == "unordered":
            return Release(job_id, "no job of an ordered route (it names no chain): it holds no key")
        return Release(job_id, "no such job (RQ deleted it, or it never was)")

    def retry(self, job_id: str, serializer: str = defaults.SERIALIZER) -> Release:
        """Run the failed `job_id` again (RQ's FailedJobRegistry.requeue): once it finishes, the worker queues the
        jobs that wait for it, in order. Refused unless it is in its queue's failed registry. EnqueueError when
        Redis fails."""
        with redis_failures(self.settings):
            origin = self.client.hget(job_key(job_id), "origin")
            if origin is None:
                return Release(job_id, "no such job (RQ deleted it, or it never was)")
            registry = FailedJobRegistry(origin.decode(), connection=self.client, serializer=serializer)
            try:
                registry.requeue(job_id)
            except InvalidJobOperation:
                status = self.client.hget(job_key(job_id), "status")
                return Release(job_id, f"not failed (its status: {(status or b'none').decode()}): nothing to retry")
            except NoSuchJobError:
                return Release(job_id, "no such job (RQ deleted it, or it never was)")
        return Release(job_id)
