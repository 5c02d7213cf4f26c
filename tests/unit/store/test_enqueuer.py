"""store/enqueuer.py without Redis: the script's arguments, its answer, and the call around it (a fake script).

What the script does with the arguments in Redis (dedupe, holds, scheduling) is
tests/integration/test_enqueuer.py's and test_writes_in_flight.py's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from karafkad.config.settings import JobOptions
from karafkad.errors import EnqueueError, ReplicasBehind
from karafkad.pipeline.outcomes import JobNaming, PendingJob
from karafkad.routes.jobs import JobTemplate, build_template
from karafkad.store.enqueuer import (
    PRUNE_FROM,
    SCRIPT,
    SCRIPT_KEYS,
    Enqueuer,
    PartitionWrite,
    script_call,
    write_result,
)

CREATED = "2026-01-01T00:00:00.000000Z"


def _template(queue: str = "q", **changes: Any) -> JobTemplate:
    """A template with one field of its own, so the arguments stay readable."""
    options: dict[str, Any] = {"at_front": False, "ttl": None, "fields": {"origin": queue},
                               "scheduled_fields": {"origin": queue, "status": "scheduled"}, **changes}
    return JobTemplate(queue, "mod.func", dumps=lambda obj: json.dumps(obj).encode(), **options)


def _naming(template: JobTemplate | None = None, route: str = "r", **changes: Any) -> JobNaming:
    return JobNaming(route, template or _template(), "kd-t-0-", "", "mod.func <- t[0]@", **changes)


def _jobs(naming: JobNaming, offsets: range, **changes: Any) -> list[PendingJob]:
    return [PendingJob(naming, o, b"data%d" % o, **changes) for o in offsets]


HEAD = ["rq:queue:q", 0, 0, "", "q", 1, "origin", "q"]
"""The head of `_template()` as a queued job's template."""
NOW = 1_700_000_000
"""The whole seconds a waiting job is scored by."""
NO_ORDER = ["", "", 0, 0]
"""A run's ordering fields when its route has none: no letter, no chain hash, no skip, nothing to keep."""


class TestScriptCall:
    def test_a_run_of_one_route_sends_two_arguments_a_job(self) -> None:
        """Window, created_at, now, prune size, one template; then the part (mark key, 'm', last, highwater,
        after, one run) and the run (templates, id and description heads, nothing carried, no ordering, three
        jobs: offset and data each)."""
        naming = _naming()
        jobs = _jobs(naming, range(3))
        call = script_call([PartitionWrite("g", "t", 0, 4, jobs, highwater=10)], 3600, CREATED, NOW)
        assert call is not None
        assert call.argv == [3600, CREATED, NOW, PRUNE_FROM, 1, *HEAD,
                             "karafkad:mark:g:t:0", "m", 4, 10, -1, 1,
                             1, 0, 0, "kd-t-0-", "", "mod.func <- t[0]@", "", *NO_ORDER, 3,
                             0, b"data0", 1, b"data1", 2, b"data2"]
        assert call.jobs == jobs

    def test_a_template_is_sent_once_per_call(self) -> None:
        """Two partitions of one route share template 1: the second part names it without sending it again."""
        naming = _naming()
        call = script_call([PartitionWrite("g", "t", 0, 0, _jobs(naming, range(1))),
                            PartitionWrite("g", "t", 1, 5, _jobs(naming, range(5, 6)))], 60, CREATED)
        assert call is not None
        assert call.argv[4] == 1 and call.argv.count("rq:queue:q") == 1
        second = call.argv.index("karafkad:mark:g:t:1")
        assert call.argv[second + 6:second + 9] == [1, 0, 0]

    def test_a_timed_route_sends_its_scheduled_template_and_each_due_time(self) -> None:
        """Template 2 is the scheduled one (its registry key, its own fields); each job carries its due time."""
        naming = _naming(timed=True)
        jobs = [PendingJob(naming, 0, b"now"), PendingJob(naming, 1, b"later", at=4_000_000_000)]
        call = script_call([PartitionWrite("g", "t", 0, 1, jobs)], 60, CREATED)
        assert call is not None
        scheduled = ["rq:queue:q", 0, 0, "rq:scheduled:q", "s", 2, "origin", "q", "status", "scheduled"]
        assert call.argv[4:5 + len(HEAD) + len(scheduled)] == [2, *HEAD, *scheduled]
        run = call.argv.index("kd-t-0-") - 3
        assert call.argv[run:] == [1, 2, 0, "kd-t-0-", "", "mod.func <- t[0]@", "t", *NO_ORDER, 2, 0, b"now", 0,
                                   1, b"later", 4_000_000_000]

    def test_jobs_carrying_their_own_id_and_description_send_them_in_that_order(self) -> None:
        """'id': after offset and data, the job's own id, then its own description."""
        naming = _naming(own_ids=True, own_descriptions=True)
        job = PendingJob(naming, 7, b"x", own_id="kd-own-7", own_description="mine")
        call = script_call([PartitionWrite("g", "t", 0, 7, [job])], 60, CREATED)
        assert call is not None
        run = call.argv.index("kd-t-0-") - 3
        assert call.argv[run:] == [1, 0, 0, "kd-t-0-", "", "mod.func <- t[0]@", "id", *NO_ORDER, 1, 7, b"x",
                                   "kd-own-7", "mine"]

    def test_the_jobs_of_two_routes_are_two_runs_and_numbered_run_by_run(self) -> None:
        """Interleaved jobs of routes a and b: a's run, then b's; the call's jobs follow that order, which is
        the order the script's duplicate positions count in."""
        first, second = _naming(_template("one"), "a"), _naming(_template("two"), "b")
        jobs = [PendingJob(naming, o, b"%d" % o) for o in range(2) for naming in (first, second)]
        call = script_call([PartitionWrite("g", "t", 0, 1, jobs)], 60, CREATED)
        assert call is not None
        assert [(j.route, j.offset) for j in call.jobs] == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
        assert call.argv[4] == 2
        part = call.argv.index("karafkad:mark:g:t:0")
        assert call.argv[part + 5] == 2  # runs

    def test_a_part_deduped_offset_by_offset_names_its_done_set(self) -> None:
        """A re-drive's part: its done set's key and 'e'; its `after` and stream are passed as they are."""
        part = PartitionWrite("g", "t", 0, 7, _jobs(_naming(), range(7, 8)), stream="redrive:a", each=True)
        call = script_call([part], 60, CREATED)
        assert call is not None
        start = call.argv.index("karafkad:done:g:t:0:redrive:a")
        assert call.argv[start:start + 6] == ["karafkad:done:g:t:0:redrive:a", "e", 7, -1, -1, 1]

    def test_a_held_condition_and_a_part_without_jobs_are_sent(self) -> None:
        """A part with no job still moves its mark (no run), and its `after` goes with it."""
        call = script_call([PartitionWrite("g", "t", 0, 9, [], after=4)], 60, CREATED)
        assert call is not None
        assert call.argv == [60, CREATED, 0, PRUNE_FROM, 0, "karafkad:mark:g:t:0", "m", 9, -1, 4, 0]

    def test_no_part_is_no_call(self) -> None:
        """Nothing to write: None (the enqueuer then does not call Redis)."""
        assert script_call([], 60, CREATED) is None

    def test_outside_the_compared_rq_range_each_job_is_its_own_template(self) -> None:
        """An `exact` template (RQ builds every hash): a template per job, and the job carries id, description
        and due time."""
        template = build_template("q", "mod.func", JobOptions(), exact=True)
        naming = JobNaming("r", template, "kd-t-0-", "", "d")
        jobs = [PendingJob(naming, o, template.encode([o])) for o in range(2)]
        call = script_call([PartitionWrite("g", "t", 0, 1, jobs)], 60, CREATED)
        assert call is not None
        assert call.argv[4] == 2
        assert call.argv.count("idt") == 2 and call.jobs == jobs

    def test_a_route_ordered_by_key_sends_its_waiting_template_chain_and_each_job_s_link(self) -> None:
        """Template 2 is the waiting (deferred) one; the run names its ordering 'k', its chain hash, whether a
        failure lets the next run, how long the chains are kept; each job carries its link after its data."""
        template = _template(deferred_fields={"origin": "q", "status": "deferred"}, failure_ttl=500)
        naming = _naming(template, ordering="key", chain="kd-t:0", allow_failure=True)
        jobs = [PendingJob(naming, 0, b"a", link=b"k:customer-1"), PendingJob(naming, 1, b"b", link=b"p")]
        call = script_call([PartitionWrite("g", "t", 0, 1, jobs)], 60, CREATED)
        assert call is not None
        waiting = ["rq:queue:q", 0, 0, "rq:deferred:q", "d", 2, "origin", "q", "status", "deferred"]
        assert call.argv[4:5 + len(HEAD) + len(waiting)] == [2, *HEAD, *waiting]
        run = call.argv.index("kd-t-0-") - 3
        assert call.argv[run:] == [1, 0, 2, "kd-t-0-", "", "mod.func <- t[0]@", "l", "k", "karafkad:chain:kd-t:0",
                                   1, 500, 2, 0, b"a", b"k:customer-1", 1, b"b", b"p"]

    def test_a_route_ordered_by_partition_sends_no_link(self) -> None:
        """One chain per partition ('p'): the jobs carry nothing more than offset and data."""
        naming = _naming(ordering="partition", chain="kd-t:0")
        call = script_call([PartitionWrite("g", "t", 0, 1, _jobs(naming, range(2)))], 60, CREATED)
        assert call is not None
        run = call.argv.index("kd-t-0-") - 3
        assert call.argv[run + 6:] == ["", "p", "karafkad:chain:kd-t:0", 0, call.argv[run + 10], 2, 0, b"data0", 1,
                                       b"data1"]

    def test_a_run_with_trace_contexts_sends_each_job_s_meta_third(self) -> None:
        """One job's message carried a trace context: the run carries 'm', every job its meta ('' for none)."""
        naming = _naming()
        jobs = [PendingJob(naming, 0, b"a", meta=b'{"traceparent": "x"}'), PendingJob(naming, 1, b"b")]
        call = script_call([PartitionWrite("g", "t", 0, 1, jobs)], 60, CREATED)
        assert call is not None
        run = call.argv.index("kd-t-0-") - 3
        assert call.argv[run:] == [1, 0, 0, "kd-t-0-", "", "mod.func <- t[0]@", "m", *NO_ORDER, 2,
                                   0, b"a", b'{"traceparent": "x"}', 1, b"b", b""]

    def test_meta_comes_after_everything_else_a_job_carries(self) -> None:
        """'idtm': own id, own description, due time, then the meta."""
        naming = _naming(own_ids=True, own_descriptions=True, timed=True)
        job = PendingJob(naming, 7, b"x", 5, "kd-own-7", "mine", meta=b"{}")
        call = script_call([PartitionWrite("g", "t", 0, 7, [job])], 60, CREATED)
        assert call is not None
        run = call.argv.index("kd-t-0-") - 3
        assert call.argv[run + 6] == "idtm"
        assert call.argv[-6:] == [7, b"x", "kd-own-7", "mine", 5, b"{}"]

    def test_outside_the_compared_rq_range_a_job_s_meta_is_a_field_of_its_template(self) -> None:
        """RQ's Job builds the hash; the meta field is added to it as RQ's to_dict would."""
        template = build_template("q", "mod.func", JobOptions(), exact=True)
        naming = JobNaming("r", template, "kd-t-0-", "", "d")
        job = PendingJob(naming, 0, template.encode([0]), meta=b'{"traceparent": "x"}')
        call = script_call([PartitionWrite("g", "t", 0, 0, [job])], 60, CREATED)
        assert call is not None
        at = call.argv.index("meta")
        assert call.argv[at + 1] == b'{"traceparent": "x"}' and at < call.argv.index("idt")


class TestWriteResult:
    def test_duplicates_and_held_parts_are_decoded_by_position(self) -> None:
        """The script answers positions: duplicates among the call's jobs, held parts among the parts."""
        jobs = _jobs(_naming(), range(4))
        result = write_result([2, [1, 3], [0, 2], 1], jobs, 0.5)
        assert (result.written, result.duplicates, result.held, result.seconds, result.waiting) == (
            2, (jobs[1], jobs[3]), (0, 2), 0.5, 1)


class FakeScript:
    """Stands for redis-py's Script: records each call, answers `answer` (or raises `error`)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, list[Any], Any]] = []
        self.answer: Any = [0, [], [], 0]
        self.error: Exception | None = None

    def __call__(self, keys: Any, args: list[Any], client: Any = None) -> Any:
        self.calls.append((keys, args, client))
        if self.error is not None:
            raise self.error
        return self.answer


class FakePipeline:
    """The replicated write's pipeline: the script, then WAIT, answered together."""

    def __init__(self, script: FakeScript, acknowledged: int) -> None:
        self.script, self.acknowledged = script, acknowledged
        self.waited: tuple[int, int] | None = None

    def __enter__(self) -> FakePipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def wait(self, replicas: int, timeout_ms: int) -> None:
        self.waited = (replicas, timeout_ms)

    def execute(self) -> list[Any]:
        return [self.script.answer, self.acknowledged]


class FakeClient:
    def __init__(self, acknowledged: int = 0) -> None:
        self.script = FakeScript()
        self.registered: list[str] = []
        self.pipelines: list[FakePipeline] = []
        self.acknowledged = acknowledged

    def register_script(self, text: str) -> FakeScript:
        self.registered.append(text)
        return self.script

    def pipeline(self, transaction: bool = True) -> FakePipeline:
        self.pipelines.append(FakePipeline(self.script, self.acknowledged))
        return self.pipelines[-1]


def _enqueuer(client: FakeClient, **options: Any) -> Enqueuer:
    return Enqueuer(client, 3600, clock=lambda: 0.0, **options)  # type: ignore[arg-type]


class TestEnqueuer:
    def test_the_script_is_enqueue_lua(self) -> None:
        """The script registered is the package's enqueue.lua, argument layout first and its answer last."""
        client = FakeClient()
        _enqueuer(client)
        assert client.registered == [SCRIPT]
        assert SCRIPT.startswith("-- Write one batch's jobs")
        assert "return {written, duplicates, held, deferred}" in SCRIPT

    def test_a_write_is_one_script_call_and_its_answer_decoded(self) -> None:
        """The KEYS are rq:queues and the job key prefix; the answer's positions name the jobs."""
        client = FakeClient()
        client.script.answer = [1, [0], [], 0]
        jobs = _jobs(_naming(), range(2))
        result = _enqueuer(client).write([PartitionWrite("g", "t", 0, 1, jobs)])
        [(keys, args, through)] = client.script.calls
        assert (tuple(keys), args[0], through) == (SCRIPT_KEYS, 3600, None)
        assert SCRIPT_KEYS == ("rq:queues", "rq:job:")
        assert (result.written, result.duplicates) == (1, (jobs[0],))

    def test_nothing_to_write_asks_nothing(self) -> None:
        """No part: no script call, nothing written."""
        client = FakeClient()
        assert _enqueuer(client).write([]).written == 0
        assert client.script.calls == []

    def test_a_redis_failure_is_an_enqueue_error(self) -> None:
        """The writer's callers catch one exception, in words."""
        client = FakeClient()
        client.script.error = redis.ConnectionError("Connection refused")
        with pytest.raises(EnqueueError, match="Redis: ConnectionError: Connection refused"):
            _enqueuer(client).write([PartitionWrite("g", "t", 0, 1)])

    def test_replicas_wait_on_the_same_connection_and_too_few_is_replicas_behind(self) -> None:
        """min_replicas: the script and WAIT go in one pipeline; fewer acknowledgements than required raise
        ReplicasBehind (an EnqueueError: the batch is written again, deduplicated)."""
        behind, caught_up = FakeClient(acknowledged=0), FakeClient(acknowledged=1)
        with pytest.raises(ReplicasBehind, match="0 of the 1 replica"):
            _enqueuer(behind, min_replicas=1, replica_timeout_ms=300).write([PartitionWrite("g", "t", 0, 1)])
        assert behind.pipelines[0].waited == (1, 300)
        assert behind.script.calls[0][2] is behind.pipelines[0]
        assert _enqueuer(caught_up, min_replicas=1).write([PartitionWrite("g", "t", 0, 1)]).written == 0
