"""Routes-file features doing their job against the real broker and Redis."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from harness import (
    BIN,
    EFFECTS_ENV,
    HANDLERS,
    REDIS_URL,
    Daemon,
    committed_offsets,
    create_topic,
    effects,
    end_offsets,
    job_ids,
    kcat_produce,
    kcat_read,
    redis_client,
    routes_yaml,
    rq_worker_burst,
    unique,
    wait_for,
    wait_until_consumed,
)


def _run(tmp_path: Path, routes: list[dict[str, object]], group: str, values: list[str], *,
         partitions: int = 1, extra: dict[str, object] | None = None, key_separator: str | None = None) -> Daemon:
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": routes}}, extra=extra))
    daemon = Daemon(config).start().wait_ready()
    topic = str(routes[0]["topic"])
    kcat_produce(topic, values, key_separator=key_separator)
    wait_until_consumed(daemon, topic, group)
    return daemon


def test_schema_violation_reaches_the_dead_letter_topic_with_its_reason(tmp_path: Path) -> None:
    """A message failing its schema is dead-lettered with the original value/key and reason and origin headers."""
    topic = create_topic(unique("orders"))
    dead = create_topic(unique("dead"))
    group, queue = unique("g"), unique("q")
    schema = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
    daemon = _run(tmp_path, [{"topic": topic, "handler": "effects.record", "queue": queue, "schema": schema,
                              "dead_letter": dead}],
                  group, ['k1|{"n": 1}', 'k2|{"n": "two"}', 'k3|not json'], key_separator="|")
    assert daemon.metric("karafkad_dead_letters_total", kind="schema") == 1
    assert daemon.stop() == 0
    letters = kcat_read(dead, "%k|%s|%h\\n")
    assert len(letters) == 2, letters
    by_key = {line.split("|", 1)[0]: line for line in letters}
    assert '{"n": "two"}' in by_key["k2"]
    assert "karafkad.error_kind=schema" in by_key["k2"]
    assert "karafkad.error=/n: " in by_key["k2"] and "integer" in by_key["k2"]
    assert f"karafkad.original_topic={topic}" in by_key["k2"]
    assert "karafkad.original_offset=1" in by_key["k2"]
    assert "karafkad.error_kind=decode" in by_key["k3"]
    assert len(job_ids(queue)) == 1


def test_filtered_message_makes_no_job_and_its_offset_is_committed(tmp_path: Path) -> None:
    """A message the filter rejects is skipped (and counted); the group's offset still moves past it."""
    topic = create_topic(unique("t"))
    group, queue = unique("g"), unique("q")
    daemon = _run(tmp_path, [{"topic": topic, "handler": "effects.record", "queue": queue,
                              "filter": "params.n > 10"}],
                  group, [json.dumps({"n": n}) for n in (5, 20, 7)])
    assert daemon.metric("karafkad_messages_skipped_total", reason="filtered") == 2
    assert daemon.stop() == 0
    assert len(job_ids(queue)) == 1
    assert committed_offsets(group, topic) == end_offsets(topic) == {0: 3}


def test_batch_route_makes_one_job_per_polled_batch(tmp_path: Path) -> None:
    """batch: true turns each polled batch of a partition into one job carrying the list of params."""
    topic = create_topic(unique("views"), partitions=2)
    group, queue = unique("g"), unique("q")
    values = [json.dumps({"n": n}) for n in range(200)]
    kcat_produce(topic, values)  # before the daemon starts, so polls return big batches
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"max_poll_records": 50, "routes": [
        {"topic": topic, "handler": "effects.record_batch", "queue": queue, "batch": True}]}}))
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    assert daemon.stop() == 0
    jobs = job_ids(queue)
    assert 2 <= len(jobs) <= 200 // 50 + 2 * 2, jobs  # about one per 50-record poll per partition
    assert all(j.count("-") >= 5 for j in jobs), jobs  # ids name the batch's first and last offsets
    assert rq_worker_burst(queue).returncode == 0
    assert effects() == dict.fromkeys(range(200), 1)
    assert int(redis_client().get("effects:batches") or 0) == len(jobs)


def test_before_enqueue_hook_can_veto_a_job(tmp_path: Path) -> None:
    """A before_enqueue hook returning false makes no job; true lets the job through."""
    topic = create_topic(unique("t"))
    group, queue = unique("g"), unique("q")
    daemon = _run(tmp_path, [{"topic": topic, "handler": "effects.record", "queue": queue,
                              "before_enqueue": "effects.only_even"}],
                  group, [json.dumps({"n": n}) for n in range(10)])
    assert daemon.metric("karafkad_messages_skipped_total", reason="vetoed") == 5
    assert daemon.stop() == 0
    assert rq_worker_burst(queue).returncode == 0
    assert effects() == dict.fromkeys(range(0, 10, 2), 1)


def test_handler_with_meta_receives_the_message_metadata(tmp_path: Path) -> None:
    """A handler taking (params, meta) gets topic, partition and offset of its message."""
    topic = create_topic(unique("t"))
    group, queue = unique("g"), unique("q")
    daemon = _run(tmp_path, [{"topic": topic, "handler": "effects.record_with_meta", "queue": queue}],
                  group, [json.dumps({"n": 1})])
    assert daemon.stop() == 0
    assert rq_worker_burst(queue).returncode == 0
    assert redis_client().hget("effects:meta", "1") == f"{topic}:0:0".encode()


def test_failing_job_is_retried_at_its_intervals_by_a_stock_rq_worker(tmp_path: Path) -> None:
    """A job that fails twice is retried by `rq worker --with-scheduler` after its intervals, then succeeds."""
    topic = create_topic(unique("t"))
    group, queue = unique("g"), unique("q")
    daemon = _run(tmp_path, [{"topic": topic, "handler": "effects.fail_twice", "queue": queue,
                              "job": {"retry": {"max": 2, "intervals": [1, 2]}}}],
                  group, [json.dumps({"n": 42})])
    assert daemon.stop() == 0
    env = {**EFFECTS_ENV, "PYTHONPATH": str(HANDLERS), "PATH": str(BIN)}
    worker = subprocess.Popen([str(BIN / "rq"), "worker", "--url", REDIS_URL, "--serializer", "json",
                               "--with-scheduler", queue], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: effects().get(42) == 1, 60, "the third attempt succeeds")
    finally:
        worker.terminate()
        try:
            output = worker.communicate(timeout=10)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:  # RQ's teardown can wait a minute (RqWorkers.stop says why)
            worker.kill()
            output = worker.communicate()[0].decode(errors="replace")
    times = [float(t.split(b":")[2]) for t in redis_client().lrange("effects:attempt_times", 0, -1)]
    assert len(times) == 3, output
    assert times[1] - times[0] >= 0.9, times  # the first interval (1 s), measured as a lower bound
    assert times[2] - times[1] >= 1.9, times  # the second interval (2 s)
    failed = redis_client().zcard(f"rq:failed:{queue}")
    assert failed == 0


def test_tombstones_follow_the_route_policy(tmp_path: Path) -> None:
    """A null value is skipped by default and becomes a job with params null under tombstone: enqueue."""
    topic = create_topic(unique("t"))
    group, skip_q, enqueue_q = unique("g"), unique("q"), unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [
        {"name": "skip", "topic": topic, "handler": "effects.record", "queue": skip_q, "decode": "text"},
        {"name": "keep", "topic": topic, "handler": "effects.record", "queue": enqueue_q, "decode": "text",
         "tombstone": "enqueue"}]}}))
    daemon = Daemon(config).start().wait_ready()
    kcat_produce(topic, ["k|"], key_separator="|", extra=["-Z"])  # -Z: an empty value is sent as NULL
    wait_until_consumed(daemon, topic, group)
    time.sleep(0.5)
    assert daemon.metric("karafkad_messages_skipped_total", reason="tombstone") == 1
    assert daemon.stop() == 0
    assert job_ids(skip_q) == []
    assert len(job_ids(enqueue_q)) == 1
