"""Jobs due later (job.delay, job.at) and messages too old to matter (max_age), run by a stock RQ worker.

The jobs wait in RQ's own scheduled-job registry; `rq worker --with-scheduler`
(RQ's, not karafkad's) moves them to the queue when due and runs them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import (
    BOOTSTRAP,
    Daemon,
    RqWorkers,
    create_topic,
    effects,
    kcat_read,
    redis_client,
    routes_yaml,
    unique,
    wait_for,
    wait_until_consumed,
)

from karafkad.producer import Producer
from karafkad.store.keys import queue_key, scheduled_key


@contextmanager
def stock_worker_with_scheduler(queue: str) -> Iterator[None]:
    """`rq worker --with-scheduler` on `queue` (RQ's forking Worker), running until the block ends."""
    worker = RqWorkers(queue, count=1, simple=False, with_scheduler=True).start()
    try:
        yield
    finally:
        worker.stop()  # (a stock worker's teardown can take a minute: RqWorkers.stop says why)


def _times() -> dict[int, float]:
    return {int(k): float(v) for k, v in redis_client().hgetall("effects:times").items()}


def test_delayed_jobs_wait_in_rqs_scheduled_registry_and_a_stock_worker_runs_them_when_due(tmp_path: Path) -> None:
    """job.delay: each job is in rq:scheduled:QUEUE scored by its due time, not in the queue, and RQ's own
    scheduler runs it then, not before."""
    topic = create_topic(unique("later"))
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [
        {"topic": topic, "handler": "effects.record_time", "queue": queue, "job": {"delay": 4}}]}}))
    daemon = Daemon(config).start().wait_ready()
    with Producer(bootstrap_servers=BOOTSTRAP) as producer:
        for n in range(5):
            producer.send_json(topic, {"n": n})
    consumed_by = time.time()
    wait_until_consumed(daemon, topic, group)
    client = redis_client()
    scheduled = client.zrange(scheduled_key(queue), 0, -1, withscores=True)
    assert len(scheduled) == 5 and client.llen(queue_key(queue)) == 0
    assert all(consumed_by - 5 <= due - 4 <= time.time() for _, due in scheduled)  # due = consumed + 4 s
    with stock_worker_with_scheduler(queue):
        wait_for(lambda: len(_times()) == 5, 60, "the scheduled jobs ran")
    due = {int(job_id.decode().rsplit("-", 1)[1]): score for job_id, score in scheduled}
    ran = _times()
    assert all(ran[n] >= due[offset] for offset, n in zip(sorted(due), sorted(ran), strict=True))  # not early
    assert effects() == dict.fromkeys(range(5), 1)
    assert daemon.stop() == 0, daemon.logs()


def test_job_at_takes_the_due_time_from_the_message(tmp_path: Path) -> None:
    """job.at: a future time waits, a past time runs at once, an unreadable one is dead-lettered (schedule)."""
    topic = create_topic(unique("at"))
    dead = create_topic(unique("at-dead"))
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [
        {"topic": topic, "handler": "effects.record_time", "queue": queue, "dead_letter": dead,
         "job": {"at": "params.send_at"}}]}}))
    soon = time.time() + 5
    with Producer(bootstrap_servers=BOOTSTRAP) as producer:
        producer.send_json(topic, {"n": 1, "send_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(soon))})
        producer.send_json(topic, {"n": 2, "send_at": 1_000_000_000})  # 2001: past, so now
        producer.send_json(topic, {"n": 3, "send_at": "next tuesday"})
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    client = redis_client()
    assert client.llen(queue_key(queue)) == 1 and client.zcard(scheduled_key(queue)) == 1
    [letter] = kcat_read(dead, "%h\\n")
    assert "karafkad.error_kind=schedule" in letter and "not an ISO 8601 time" in letter
    with stock_worker_with_scheduler(queue):
        wait_for(lambda: len(_times()) == 2, 60, "both jobs ran")
    assert _times()[1] >= int(soon)  # RQ scores by whole seconds
    assert daemon.stop() == 0, daemon.logs()


def test_messages_older_than_max_age_are_skipped_as_expired(tmp_path: Path) -> None:
    """max_age: a message whose Kafka timestamp is older is counted as expired, not enqueued; fresh ones are."""
    topic = create_topic(unique("aged"))
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [
        {"topic": topic, "handler": "effects.record", "queue": queue, "max_age": 60}]}}))
    hour_ago = int((time.time() - 3600) * 1000)
    with Producer(bootstrap_servers=BOOTSTRAP) as producer:
        for n in range(3):
            producer.send_json(topic, {"n": n}, timestamp_ms=hour_ago)
        for n in range(3, 5):
            producer.send_json(topic, {"n": n})
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    assert daemon.metric("karafkad_messages_skipped_total", reason="expired") == 3
    assert redis_client().llen(queue_key(queue)) == 2
    status = json.loads(daemon.get("/status.json")[1])
    [route] = status["routes"]
    assert route["skipped"] == {"expired": 3.0}
    assert daemon.stop() == 0, daemon.logs()
