"""Build RQ job hashes fast, in exactly the shape the installed RQ writes them.

RQ's own `Queue.enqueue_many` spends most of its time building Job objects
(~6.5k jobs/s here); writing the same hashes directly reaches ~19k/s. To stay
exactly compatible without re-implementing RQ, each route asks RQ once, at
load time, for the hash of a template job with the route's options
(`Queue.create_job(...).to_dict()`); per message only the fields that differ
between jobs of one route are replaced: `data` (the zlib-compressed,
serialized call), `created_at`, `enqueued_at` and `description`, and a
job whose message carried a trace context gets a `meta` field with it
(`meta_field`, as RQ writes `Queue.enqueue(meta=...)`). A JSON
message whose params go to the job unchanged is not serialized again: its
own text is the params in the job's data (`encode_json_text`).
tests/integration/test_rq_contract.py compares the result with what RQ
itself writes, field by field, and runs the jobs in a stock `rq worker`.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import rq
from redis import Redis
from rq import Queue, Retry
from rq.defaults import DEFAULT_FAILURE_TTL
from rq.job import Dependency, JobStatus
from rq.serializers import JSONSerializer, PickleSerializer

from karafkad.config.settings import JobOptions
from karafkad.tracing.context import TraceContext

SUPPORTED_RQ = ((3, 0), (3, 1))
"""RQ versions [from, to) whose job hashes tests/integration/test_rq_contract.py compared field by
field. Outside it every job hash is built by RQ's own Job class (slower, but whatever that RQ writes)."""

VARYING_FIELDS = ("data", "created_at", "enqueued_at", "description")
"""The fields that differ between jobs of one route; the rest come from the route's template."""
DEPENDENCY_FIELDS = ("dependency_id", "dependency_ids")
"""The fields of a deferred job that name the job it waits for (set per job, see store/enqueue.lua)."""
TEMPLATE_PARENT = "template-parent"
"""The job a template's deferred job is made to wait for (RQ needs one to make it; the script names the real one)."""
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


def rq_version() -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", rq.__version__)[:3])


def rq_supported() -> bool:
    low, high = SUPPORTED_RQ
    return low <= rq_version()[:2] < high


def job_id_prefix(group: str, topic: str, route: str) -> str:
    """`kd-<topic>-<hash>`: readable, and unique per (group, topic, route) whatever the names contain.

    RQ job ids may hold only letters, digits, `_` and `-`; topic names may also
    hold `.`, so the hash keeps `a.b` and `a_b` apart.
    """
    digest = hashlib.blake2b(f"{group}\0{topic}\0{route}".encode(), digest_size=5).hexdigest()
    return f"kd-{_UNSAFE_ID.sub('_', topic)[:40]}-{digest}"


def _dumps_json(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:
        # orjson refuses integers beyond 64 bits; json writes them exactly (and
        # RQ's JSONSerializer, which uses json, reads them back exactly).
        return json.dumps(obj, ensure_ascii=False, allow_nan=False).encode()


def _dumps_pickle(obj: Any) -> bytes:
    return PickleSerializer.dumps(obj)


@dataclass(frozen=True)
class JobTemplate:
    """Everything about a route's jobs that is the same for each of them."""

    queue: str
    func_name: str
    at_front: bool
    ttl: int | None
    fields: dict[str, Any]
    dumps: Callable[[Any], bytes]
    rq_job: Callable[[list[Any], str, bool], dict[str, Any]] | None = None
    """Outside SUPPORTED_RQ: builds the whole hash with RQ's Job class, per job (third argument: scheduled)."""
    scheduled_fields: dict[str, Any] = field(default_factory=dict)
    """The fields of a job that waits in the scheduled-job registry (status `scheduled`, no enqueued_at)."""
    deferred_fields: dict[str, Any] = field(default_factory=dict)
    """The fields of a job that waits for another (an ordered route's: status `deferred`, no enqueued_at, and
    for `on_failure: skip` RQ's allow_dependency_failures); empty for a route without ordering."""
    loads: Callable[[bytes], Any] = JSONSerializer.loads
    """The serializer's reading side, as a worker reads `data` back."""
    failure_ttl: int = DEFAULT_FAILURE_TTL
    """Seconds RQ keeps a job that failed for good: an ordered route's chains are kept as long (a key held by
    a failed job must still find it)."""
    meta_dumps: Callable[[Any], bytes] | None = None
    """How the serializer writes a job's meta (RQ serializes it as it does the call); None for JSON, whose
    trace-context meta is written by TraceContext.json_meta."""
    call_head: bytes = field(init=False)
    """The JSON-serialized call up to its first argument: `["module.function",null,[`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "call_head", b"[" + _dumps_json(self.func_name) + b",null,[")

    def encode(self, args: list[Any]) -> bytes:
        """The job's `data` field: the serialized call, in a zlib stream as RQ stores it.

        Raises ValueError or TypeError when the arguments cannot be serialized.
        """
        return deflate(self.dumps((self.func_name, None, args, {})))

    def encode_json_text(self, params: bytes, meta: dict[str, Any] | None = None) -> bytes:
        """What `encode([params])` (or `encode([params, meta])`) gives, for params that a JSON route decoded from
        the text `params`, without serializing them again: the text goes into the call as it is.

        JSON serializer only. A worker's `json.loads` reads the same params from it as from a fresh
        serialization (the text passed karafkad's own strict decoding, so it is one JSON value; a number
        too large for orjson was decoded by `json`, as the worker does). Measured with timeit on the
        benchmark's 313-byte order: 0.33 µs instead of 0.71 µs for orjson.dumps and the stream; in the
        daemon it also frees the params' objects at once instead of keeping them until the batch is
        written (part of the 19.8 -> 13.7 µs per message of that change, docs/benchmarks.md).
        """
        rest = _CALL_END if meta is None else b"," + _dumps_json(meta) + _CALL_END
        return deflate(b"".join((self.call_head, params, rest)))

    def meta_field(self, context: TraceContext) -> bytes:
        """The job's `meta` field carrying `context` under its W3C keys: what RQ writes for
        `Queue.enqueue(meta=context.carrier())` (a job without a context has no meta field, as in RQ)."""
        if self.meta_dumps is None:
            return context.json_meta()
        return self.meta_dumps(context.carrier())

    def decode(self, data: bytes) -> list[Any]:
        """The call's arguments as a worker reads them back from `data` (the serializer's round trip)."""
        _func, _instance, args, _kwargs = self.loads(zlib.decompress(data))
        return list(args)


def _rq_hash(rq_queue: Queue, func_name: str, options: JobOptions, args: list[Any], description: str,
             scheduled: bool = False, waits_for: Dependency | str | None = None) -> dict[str, Any]:
    """The hash RQ's own Job class writes for this call, as Queue.enqueue (or, `scheduled`, enqueue_at; or,
    `waits_for`, Queue.enqueue with depends_on on an unfinished job) saves it."""
    retry = None
    if options.retry_max:
        intervals = list(options.retry_intervals) or [0]
        retry = Retry(max=options.retry_max, interval=intervals if len(intervals) > 1 else intervals[0])
    job = rq_queue.create_job(
        func_name,
        args=tuple(args),
        timeout=options.timeout,
        result_ttl=options.result_ttl,
        failure_ttl=options.failure_ttl,
        ttl=options.ttl,
        description=description,
        job_id="template",
        retry=retry,
        status=JobStatus.SCHEDULED if scheduled else JobStatus.QUEUED,
        depends_on=waits_for,
    )
    if waits_for is not None:
        # What Queue.setup_dependencies saves for a job whose dependency is unfinished: no enqueued_at.
        job._status = JobStatus.DEFERRED
        deferred_fields: dict[str, Any] = job.to_dict()
        return deferred_fields
    if scheduled:
        # What Queue.schedule_job saves: no enqueued_at until RQ's scheduler enqueues it.
        job._status = JobStatus.SCHEDULED
        scheduled_fields: dict[str, Any] = job.to_dict()
        return scheduled_fields
    # What Queue._prepare_for_queue sets before saving (it also asks Redis for
    # its version, which only matters for jobs with dependencies).
    job.origin = rq_queue.name
    job.enqueued_at = datetime.now(UTC)
    job._status = JobStatus.QUEUED
    fields: dict[str, Any] = job.to_dict()
    return fields


def build_template(queue: str, func_name: str, options: JobOptions, *, exact: bool | None = None,
                   ordered: bool = False, allow_failure: bool = False) -> JobTemplate:
    """Ask RQ for the hash of a job with these options; keep the parts that never vary.

    `exact` (default: the installed RQ is outside SUPPORTED_RQ) makes every
    job's hash come from RQ's own Job class instead. `ordered` adds the hash
    of a job that waits for another (RQ's dependencies), `allow_failure`
    letting it run when that one failed for good (`on_failure: skip`).
    """
    serializer = JSONSerializer if options.serializer == "json" else PickleSerializer
    # No command is sent: a Redis client only connects when used.
    rq_queue = Queue(queue, connection=Redis(), serializer=serializer)
    fields = {k: v for k, v in _rq_hash(rq_queue, func_name, options, [], "template").items()
              if k not in VARYING_FIELDS}
    scheduled = {k: v for k, v in _rq_hash(rq_queue, func_name, options, [], "template", scheduled=True).items()
                 if k not in VARYING_FIELDS}
    deferred = {}
    if ordered:
        # As RQ writes `depends_on=ID` (no allow_dependency_failures field), or for a skip route
        # `depends_on=Dependency(jobs=[ID], allow_failure=True)`.
        waits_for: Dependency | str = Dependency(jobs=[TEMPLATE_PARENT], allow_failure=True) if allow_failure \
            else TEMPLATE_PARENT
        deferred = {k: v for k, v in _rq_hash(rq_queue, func_name, options, [], "template", waits_for=waits_for).items()
                    if k not in VARYING_FIELDS and k not in DEPENDENCY_FIELDS}
    dumps = _dumps_json if options.serializer == "json" else _dumps_pickle
    slow = (not rq_supported()) if exact is None else exact

    def rq_job(args: list[Any], description: str, due: bool) -> dict[str, Any]:
        return _rq_hash(rq_queue, func_name, options, args, description, scheduled=due)

    return JobTemplate(queue, func_name, options.at_front, options.ttl, fields, dumps, rq_job if slow else None,
                       scheduled, deferred, serializer.loads, options.failure_ttl or DEFAULT_FAILURE_TTL,
                       None if serializer is JSONSerializer else serializer.dumps)


SMALL_PAYLOAD = 2048
"""Below this many bytes a job's data goes into a zlib stream uncompressed ("stored"): for a
300-byte payload compressing costs ~12 µs, more than everything else karafkad does for the
message, and saves ~60 bytes. RQ's zlib.decompress reads either form."""

_CALL_END = b"],{}]"
"""The serialized call after its arguments: no keyword arguments."""

_STORED = struct.Struct("<3sHH")
"""zlib header (deflate, 32 KiB window, no preset dictionary; 0x7801 % 31 == 0), the header of one final
stored block, LEN and NLEN."""
_STORED_HEADER = b"\x78\x01\x01"


def deflate(payload: bytes) -> bytes:
    """A zlib stream of `payload` (what RQ's Job stores in `data`), compressed only when large.

    A small payload is one final stored deflate block (RFC 1951 3.2.4) framed as a zlib stream
    (RFC 1950): header, block header, LEN, NLEN, the bytes, Adler-32. Building it by hand takes
    well under a microsecond; zlib's own level 0 spends several setting up its state.
    """
    size = len(payload)
    if size < SMALL_PAYLOAD:
        return b"".join((_STORED.pack(_STORED_HEADER, size, size ^ 0xFFFF), payload,
                         zlib.adler32(payload).to_bytes(4, "big")))
    return zlib.compress(payload, 1)


def rq_timestamp(moment: datetime | None = None) -> str:
    """RQ's timestamp format (rq.utils.utcformat)."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
