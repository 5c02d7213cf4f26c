"""The jobs karafkad writes without RQ's Job class are the jobs RQ itself writes.

For the pinned RQ range (rqjobs.SUPPORTED_RQ) a job written by karafkad's
fast path is compared field by field with one RQ's own Queue.enqueue wrote
with the same options; then stock `rq` tools run and count them.
"""

from __future__ import annotations

import json
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from harness import BIN, REDIS_URL, redis_client, rq_worker_burst
from rq import Queue, Retry
from rq.job import Dependency, Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer, PickleSerializer

from karafkad.config.settings import JobOptions
from karafkad.pipeline.outcomes import JobNaming, PendingJob
from karafkad.routes.jobs import JobTemplate, build_template, rq_supported
from karafkad.store.enqueuer import Enqueuer, PartitionWrite
from karafkad.store.keys import (
    deferred_key,
    dependencies_key,
    dependents_key,
    job_key,
    queue_key,
    scheduled_key,
)
from karafkad.store.ready import ReadyReleasingQueue
from karafkad.tracing.context import TraceContext

OPTIONS = {
    "defaults": JobOptions(),
    "everything": JobOptions(timeout=42, result_ttl=60, failure_ttl=3600, ttl=900, retry_max=3,
                             retry_intervals=(1, 5, 10), at_front=True, description="x"),
    "single interval": JobOptions(retry_max=2, retry_intervals=(7,)),
    "pickle": JobOptions(serializer="pickle", result_ttl=-1),
}


def _rq_enqueue(queue: Queue, options: JobOptions, args: list[Any], job_id: str, description: str,
                **more: Any) -> None:
    retry = None
    if options.retry_max:
        intervals = list(options.retry_intervals)
        retry = Retry(max=options.retry_max, interval=intervals if len(intervals) > 1 else intervals[0])
    queue.enqueue("effects.record", *args, job_id=job_id, job_timeout=options.timeout, result_ttl=options.result_ttl,
                  failure_ttl=options.failure_ttl, ttl=options.ttl, retry=retry, at_front=options.at_front,
                  description=description, **more)


def _job(template: JobTemplate, id_head: str, offset: int, args: list[Any], at: int = 0) -> PendingJob:
    """A job as the pipeline makes it: id `id_head` + offset, the default description."""
    naming = JobNaming("r", template, id_head, "", "effects.record <- t[0]@", timed=at > 0)
    return PendingJob(naming, offset, template.encode(args), at)


def _decoded(fields: dict[bytes, bytes], serializer: Any) -> dict[str, Any]:
    out = {k.decode(): v for k, v in fields.items()}
    out["data"] = serializer.loads(zlib.decompress(out["data"]))
    out["data"] = json.loads(json.dumps(out["data"])) if serializer is JSONSerializer else list(out["data"])
    return out


class TestRqContract:
    def test_the_installed_rq_is_in_the_compared_range(self) -> None:
        """The suite runs the fast path against the RQ it installed (else the comparison below tests the fallback)."""
        assert rq_supported()

    @pytest.mark.parametrize("exact", [False, True], ids=["fast path", "RQ's Job (fallback)"])
    @pytest.mark.parametrize("name", OPTIONS)
    def test_job_hash_equals_rqs_own(self, name: str, exact: bool) -> None:
        """Same fields, same encodings; only the timestamps differ (and are in RQ's format)."""
        options = OPTIONS[name]
        serializer = JSONSerializer if options.serializer == "json" else PickleSerializer
        client = redis_client()
        params = {"n": 1, "text": "é", "nested": {"list": [1, 2.5, None, True]}}
        _rq_enqueue(Queue("contract", connection=client, serializer=serializer), options, [params], "rq-own",
                    "effects.record <- t[0]@0")
        template = build_template("contract", "effects.record", options, exact=exact)
        Enqueuer(client, 3600).write([PartitionWrite("g", "t", 0, 0, [_job(template, "ours-", 0, [params])])])
        theirs = _decoded(client.hgetall(job_key("rq-own")), serializer)
        ours = _decoded(client.hgetall(job_key("ours-0")), serializer)
        assert set(ours) == set(theirs)
        for field in ("created_at", "enqueued_at"):
            assert len(ours.pop(field)) == len(theirs.pop(field))
        if serializer is PickleSerializer:
            ours["data"][2], theirs["data"][2] = list(ours["data"][2]), list(theirs["data"][2])
        assert ours == theirs
        assert client.ttl(job_key("ours-0")) == client.ttl(job_key("rq-own")) or abs(
            client.ttl(job_key("ours-0")) - client.ttl(job_key("rq-own"))) <= 1
        job = Job.fetch("ours-0", connection=client, serializer=serializer)
        assert job.args == (params,) or list(job.args) == [params]
        assert job.origin == "contract" and job.get_status() == "queued"

    def test_a_job_made_from_the_message_text_equals_rqs_own(self) -> None:
        """A JSON route's job carries the message's own text as its params (JobTemplate.encode_json_text): a
        worker reads the same call from it as from the job RQ's Queue.enqueue writes for the decoded params,
        whitespace, escapes, big integers and all."""
        client = redis_client()
        text = (b' {"n": 1, "text": "\\u00e9\\n", "big": 123456789012345678901234567890,\n'
                b' "nested": {"list": [1, 2.5e3, null, true, -0.0]}} ')
        params = json.loads(text)
        _rq_enqueue(Queue("texts", connection=client, serializer=JSONSerializer), JobOptions(), [params], "rq-own",
                    "effects.record <- t[0]@0")
        template = build_template("texts", "effects.record", JobOptions())
        naming = JobNaming("r", template, "ours-", "", "effects.record <- t[0]@")
        Enqueuer(client, 3600).write([PartitionWrite("g", "t", 0, 0, [
            PendingJob(naming, 0, template.encode_json_text(text))])])
        theirs = _decoded(client.hgetall(job_key("rq-own")), JSONSerializer)
        ours = _decoded(client.hgetall(job_key("ours-0")), JSONSerializer)
        for field in ("created_at", "enqueued_at"):
            assert len(ours.pop(field)) == len(theirs.pop(field))
        assert ours == theirs
        assert list(Job.fetch("ours-0", connection=client, serializer=JSONSerializer).args) == [params]
        assert rq_worker_burst("texts").returncode == 0

    @pytest.mark.parametrize("exact", [False, True], ids=["fast path", "RQ's Job (fallback)"])
    @pytest.mark.parametrize("name", ["defaults", "pickle"])
    def test_a_job_carrying_a_trace_context_equals_rqs_enqueue_with_meta(self, name: str, exact: bool) -> None:
        """A message's trace context goes into the job's meta: the hash RQ's Queue.enqueue(meta=...) writes, meta
        field and all, read back by RQ's Job as that meta (opentelemetry-instrumentation-rq reads it there)."""
        options = OPTIONS[name]
        serializer = JSONSerializer if options.serializer == "json" else PickleSerializer
        client = redis_client()
        context = TraceContext("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "shop=eu", "user=42")
        _rq_enqueue(Queue("traced", connection=client, serializer=serializer), options, [{"n": 1}], "rq-own",
                    "effects.record <- t[0]@0", meta=context.carrier())
        template = build_template("traced", "effects.record", options, exact=exact)
        job = _job(template, "ours-", 0, [{"n": 1}])
        job.meta = template.meta_field(context)
        Enqueuer(client, 3600).write([PartitionWrite("g", "t", 0, 0, [job])])
        theirs = _decoded(client.hgetall(job_key("rq-own")), serializer)
        ours = _decoded(client.hgetall(job_key("ours-0")), serializer)
        for field in ("created_at", "enqueued_at"):
            assert len(ours.pop(field)) == len(theirs.pop(field))
        if serializer is PickleSerializer:
            ours["data"][2], theirs["data"][2] = list(ours["data"][2]), list(theirs["data"][2])
        assert ours == theirs and "meta" in ours
        assert Job.fetch("ours-0", connection=client, serializer=serializer).meta == context.carrier()

    @pytest.mark.parametrize("exact", [False, True], ids=["fast path", "RQ's Job (fallback)"])
    def test_a_scheduled_job_equals_rqs_enqueue_at(self, exact: bool) -> None:
        """A job due later: the hash RQ's Queue.enqueue_at writes (status scheduled, no enqueued_at), in RQ's
        ScheduledJobRegistry with the same score, and not in the queue."""
        options = OPTIONS["everything"]
        client = redis_client()
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        params = {"n": 1}
        retry = Retry(max=options.retry_max, interval=list(options.retry_intervals))
        Queue("later", connection=client, serializer=JSONSerializer).enqueue_at(
            due, "effects.record", params, job_id="rq-own", job_timeout=options.timeout,
            result_ttl=options.result_ttl, failure_ttl=options.failure_ttl, ttl=options.ttl, retry=retry,
            description="effects.record <- t[0]@0")
        template = build_template("later", "effects.record", options, exact=exact)
        Enqueuer(client, 3600).write([PartitionWrite("g", "t", 0, 0, [
            _job(template, "ours-", 0, [params], at=int(due.timestamp()))])])
        theirs = _decoded(client.hgetall(job_key("rq-own")), JSONSerializer)
        ours = _decoded(client.hgetall(job_key("ours-0")), JSONSerializer)
        assert set(ours) == set(theirs) and "enqueued_at" not in ours
        assert len(ours.pop("created_at")) == len(theirs.pop("created_at"))
        assert ours == theirs and ours["status"] == b"scheduled"
        scores = dict(client.zrange(scheduled_key("later"), 0, -1, withscores=True))
        assert scores[b"ours-0"] == scores[b"rq-own"] == int(due.timestamp())
        assert client.llen(queue_key("later")) == 0

    @pytest.mark.parametrize("skip", [False, True], ids=["on_failure hold", "on_failure skip"])
    def test_a_waiting_job_equals_rqs_enqueue_with_depends_on(self, skip: bool) -> None:
        """A job of an ordered route whose key's previous job is unfinished: the hash RQ's Queue.enqueue writes
        with `depends_on=Dependency(enqueue_at_front=True)` (status deferred, no enqueued_at, dependency_id(s),
        released to the queue's front; for a skip route allow_failure=True too), plus karafkad's chain field; in
        the deferred registry, the earlier job's dependents and its own dependencies, as RQ's; not in the
        queue."""
        options = OPTIONS["everything"]
        client = redis_client()
        params = {"n": 2}
        queue = Queue("ordered", connection=client, serializer=JSONSerializer)
        retry = Retry(max=options.retry_max, interval=list(options.retry_intervals))
        earlier = queue.enqueue("effects.record", {"n": 1}, job_id="earlier", result_ttl=options.result_ttl)
        queue.enqueue("effects.record", params, job_id="rq-own", job_timeout=options.timeout,
                      result_ttl=options.result_ttl, failure_ttl=options.failure_ttl, ttl=options.ttl, retry=retry,
                      at_front=options.at_front, description="effects.record <- t[0]@1",
                      depends_on=Dependency(jobs=[earlier], allow_failure=skip, enqueue_at_front=True))
        template = build_template("ordered", "effects.record", options, ordered=True, allow_failure=skip)
        naming = JobNaming("r", template, "ours-", "", "effects.record <- t[0]@", ordering="key", chain="c:0",
                           allow_failure=skip)
        first = PendingJob(naming, 0, template.encode([{"n": 1}]), link=b"k:a")
        second = PendingJob(naming, 1, template.encode([params]), link=b"k:a")
        Enqueuer(client, 3600).write([PartitionWrite("g", "t", 0, 1, [first, second])])
        theirs = _decoded(client.hgetall(job_key("rq-own")), JSONSerializer)
        ours = _decoded(client.hgetall(job_key("ours-1")), JSONSerializer)
        assert ours.pop("karafkad_chain") == b"karafkad:chain:c:0\nk:a"
        if not skip:  # RQ writes a Dependency's allow_failure=False as 0; unwritten, it reads the same (None)
            assert theirs.pop("allow_dependency_failures") == b"0"
        assert set(ours) == set(theirs) and "enqueued_at" not in ours
        assert len(ours.pop("created_at")) == len(theirs.pop("created_at"))
        assert (ours.pop("dependency_id"), theirs.pop("dependency_id")) == (b"ours-0", b"earlier")
        assert (ours.pop("dependency_ids"), theirs.pop("dependency_ids")) == (b'["ours-0"]', b'["earlier"]')
        assert ours == theirs and ours["status"] == b"deferred" and ours["enqueue_at_front"] == b"1"
        assert client.zscore(deferred_key("ordered"), "ours-1") is not None
        assert client.zscore(deferred_key("ordered"), "rq-own") is not None
        assert client.smembers(dependents_key("ours-0")) == {b"ours-1"}
        assert client.smembers(dependencies_key("ours-1")) == {b"ours-0"}
        assert client.ttl(dependencies_key("ours-1")) == client.ttl(dependencies_key("rq-own"))
        assert sorted(client.lrange(queue_key("ordered"), 0, -1)) == [b"earlier", b"ours-0"]  # at_front: either way
        job = Job.fetch("ours-1", connection=client, serializer=JSONSerializer)
        assert job.dependency_ids == ["ours-0"] and job.allow_dependency_failures is (True if skip else None)

    def test_a_stock_worker_runs_a_key_s_waiting_jobs_in_order_and_a_failure_holds_them(self) -> None:
        """Three messages of key a, two of key b, a's first job failing: the worker runs b's in order and none
        of a's later jobs (held: deferred behind the failed one); nothing is left queued."""
        client = redis_client()
        template = build_template("chained", "effects.record_order", JobOptions(), ordered=True)
        naming = JobNaming("r", template, "o-", "", "d@", ordering="key", chain="c:0")
        keys = ["a", "b", "a", "b", "a"]
        jobs = [PendingJob(naming, o, template.encode([{"n": o, "key": k, "fail": o == 0}]), link=b"k:" + k.encode())
                for o, k in enumerate(keys)]
        result = Enqueuer(client, 3600).write([PartitionWrite("g", "t", 0, 4, jobs)])
        assert (result.written, result.waiting) == (5, 3)
        assert rq_worker_burst("chained").returncode == 0
        assert client.lrange("effects:order", 0, -1) == [b"b:1", b"b:3"]
        assert sorted(client.zrange(deferred_key("chained"), 0, -1)) == [b"o-2", b"o-4"]
        assert client.llen(queue_key("chained")) == 0

    @pytest.mark.parametrize("queue_class", [Queue, ReadyReleasingQueue], ids=["rq's release", "karafkad worker's"])
    def test_a_released_job_goes_to_the_front_of_its_queue(self, queue_class: type[Queue]) -> None:
        """When its key's previous job has finished, a waiting job is pushed to the front of the queue (RQ's
        enqueue_dependents, or karafkad worker's release script): ahead of the jobs queued after it was written,
        so a key's chain does not move one link per pass through the backlog."""
        client = redis_client()
        template = build_template("fronted", "effects.record", JobOptions(), ordered=True)
        naming = JobNaming("r", template, "f-", "", "d@", ordering="key", chain="c:0")
        jobs = [PendingJob(naming, o, template.encode([{"n": o}]), link=b"k:" + key.encode())
                for o, key in enumerate("aba")]
        Enqueuer(client, 3600).write([PartitionWrite("g", "t", 0, 2, jobs)])
        assert client.lrange(queue_key("fronted"), 0, -1) == [b"f-0", b"f-1"]
        # f-0 taken off the queue and finished, as a worker does
        client.lrem(queue_key("fronted"), 0, "f-0")
        queue = queue_class("fronted", connection=client, serializer=JSONSerializer)
        first = Job.fetch("f-0", connection=client, serializer=JSONSerializer)
        first.set_status(JobStatus.FINISHED)
        queue.enqueue_dependents(first)
        assert client.lrange(queue_key("fronted"), 0, -1) == [b"f-2", b"f-1"]

    def test_rq_info_counts_karafkad_jobs(self) -> None:
        """`rq info` sees the queue and its jobs."""
        client = redis_client()
        template = build_template("counted", "effects.record", JobOptions())
        jobs = [_job(template, "c-", i, [{"n": i}]) for i in range(7)]
        Enqueuer(client, 3600).write([PartitionWrite("g", "t", 0, 6, jobs)])
        info = subprocess.run([str(BIN / "rq"), "info", "--url", REDIS_URL, "--only-queues", "--raw"],
                              capture_output=True, text=True, check=True, timeout=60)
        assert "queue counted 7" in info.stdout, info.stdout

    def test_a_failing_job_lands_in_rqs_failed_registry(self) -> None:
        """A job whose handler raises (no retries) is in the FailedJobRegistry after a stock worker ran it."""
        client = redis_client()
        template = build_template("failing", "effects.fail_twice", JobOptions())
        Enqueuer(client, 3600).write([PartitionWrite("g", "t", 0, 1, [_job(template, "f-", 1, [{"n": 1}])])])
        assert rq_worker_burst("failing").returncode == 0
        registry = FailedJobRegistry("failing", connection=client, serializer=JSONSerializer)
        assert registry.get_job_ids() == ["f-1"]
        assert "attempt 1 fails on purpose" in (Job.fetch("f-1", connection=client,
                                                          serializer=JSONSerializer).latest_result().exc_string or "")

    def test_pickle_jobs_run_in_a_pickle_worker(self) -> None:
        """A pickle-serialized karafkad job runs in `rq worker --serializer pickle`."""
        client = redis_client()
        template = build_template("pickled", "effects.record", JobOptions(serializer="pickle"))
        Enqueuer(client, 3600).write([PartitionWrite("g", "t", 0, 1, [_job(template, "p-", 1, [{"n": 5}])])])
        assert rq_worker_burst("pickled", serializer="pickle").returncode == 0
        assert client.hget("effects", "5") == b"1"
