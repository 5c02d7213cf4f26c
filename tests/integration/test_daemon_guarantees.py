"""The promises of DESIGN.md "Guarantees", under load, against the real broker and Redis.

Each test produces numbered messages continuously with kcat, disturbs the
daemon or a service, heals, and then checks with job ids: every message in
the topic is exactly one job in the queue, and nothing else is.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest
from harness import (
    CommitAuditor,
    Daemon,
    Load,
    RqWorkers,
    assert_exactly_once,
    create_topic,
    routes_yaml,
    script,
    unique,
    wait_for,
    wait_until_consumed,
)


def _setup(tmp_path: Path, partitions: int = 4, threads: int = 2, **group: object) -> tuple[str, str, str, Path]:
    topic = create_topic(unique("load"), partitions=partitions)
    group_id = unique("g")
    queue = unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group_id: {"threads": threads, **group, "routes": [
        {"topic": topic, "handler": "effects.record", "queue": queue}]}}))
    return topic, group_id, queue, config


def test_sigterm_under_load_loses_nothing(tmp_path: Path) -> None:
    """SIGTERM mid-stream drains and exits 0 in time; after a restart every message is exactly one job."""
    topic, group, queue, config = _setup(tmp_path)
    load = Load(topic).start()
    daemon = Daemon(config).start().wait_ready()
    time.sleep(3)
    started = time.monotonic()
    assert daemon.stop(timeout=30) == 0, daemon.logs()
    assert time.monotonic() - started < 20, "the drain took longer than shutdown_timeout"
    time.sleep(1)
    second = Daemon(config).start().wait_ready()
    time.sleep(2)
    load.stop()
    wait_until_consumed(second, topic, group)
    assert second.stop() == 0, second.logs()
    assert assert_exactly_once(topic, group, queue) > 500


def test_kill_9_at_random_moments_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    """Five kill -9s at random moments under load: no message lost, no job enqueued twice."""
    _kill_cycles(tmp_path, 5)


@pytest.mark.soak
def test_kill_9_soak_forty_cycles(tmp_path: Path) -> None:
    """The same with forty kill -9s (opt-in: pytest --soak)."""
    _kill_cycles(tmp_path, 40)


def _kill_cycles(tmp_path: Path, cycles: int) -> None:
    # A killed member stays in the group until its session times out, and the next daemon's join waits for
    # that: the broker's least session timeout (6 s) keeps each cycle short without changing what it proves.
    topic, group, queue, config = _setup(tmp_path, session_timeout_ms=6000)
    rng = random.Random()
    load = Load(topic).start()
    auditor = CommitAuditor(topic, group, queue).start()
    for _ in range(cycles):
        daemon = Daemon(config).start().wait_ready()
        time.sleep(rng.uniform(0.5, 3.0))
        daemon.kill()
    final = Daemon(config).start().wait_ready()
    time.sleep(1)
    load.stop()
    wait_until_consumed(final, topic, group)
    auditor.stop()
    assert final.stop() == 0, final.logs()
    assert assert_exactly_once(topic, group, queue) > 500


def test_redis_outage_pauses_and_resumes_without_loss(tmp_path: Path) -> None:
    """Redis stopped for 15 s under load: the member stays in its group, resumes, loses and repeats nothing.

    Committed offsets are sampled throughout and never run ahead of the jobs in Redis.
    """
    topic, group, queue, config = _setup(tmp_path)
    load = Load(topic).start()
    daemon = Daemon(config).start().wait_ready()
    auditor = CommitAuditor(topic, group, queue).start()
    # Both threads have their partitions and the group has settled (the join can take a rebalance).
    wait_for(lambda: _assignment_events(daemon) >= 2 and daemon.metric("karafkad_jobs_enqueued_total") > 0, 60,
             "both consumer threads consume")
    time.sleep(2)
    assignments_before = _assignment_events(daemon)
    script("redis", "stop")
    try:
        time.sleep(15)
        assert daemon.proc is not None and daemon.proc.poll() is None, daemon.logs()
    finally:
        script("redis", "start")
    time.sleep(3)
    load.stop()
    wait_until_consumed(daemon, topic, group)
    auditor.stop()
    assert _assignment_events(daemon) == assignments_before, "a rebalance happened during the outage"
    assert any(e.get("event", "").startswith("cannot deliver") for e in daemon.events())
    assert any(e.get("event", "").startswith("delivering again") for e in daemon.events())
    assert daemon.stop() == 0, daemon.logs()
    assert assert_exactly_once(topic, group, queue) > 500


def test_broker_restart_under_load_loses_nothing(tmp_path: Path) -> None:
    """The broker stopped and started under load: the daemon reconnects; no loss, no duplicate."""
    topic, group, queue, config = _setup(tmp_path)
    load = Load(topic).start()
    daemon = Daemon(config).start().wait_ready()
    auditor = CommitAuditor(topic, group, queue).start()
    time.sleep(3)
    script("kafka", "stop")
    try:
        time.sleep(5)
    finally:
        script("kafka", "start")
    time.sleep(5)
    load.stop()
    wait_until_consumed(daemon, topic, group, timeout=180)
    auditor.stop()
    assert daemon.proc is not None and daemon.proc.poll() is None
    assert daemon.stop() == 0, daemon.logs()
    assert assert_exactly_once(topic, group, queue) > 500


def test_second_instance_joining_and_leaving_loses_nothing(tmp_path: Path) -> None:
    """A second daemon joins the group under load, then leaves: both rebalances lose and repeat nothing."""
    topic, group, queue, config = _setup(tmp_path, partitions=6)
    load = Load(topic).start()
    first = Daemon(config).start().wait_ready()
    auditor = CommitAuditor(topic, group, queue).start()
    time.sleep(2)
    second = Daemon(config).start().wait_ready()
    wait_for(lambda: second.metric("karafkad_messages_consumed_total") > 0, 60, "the second daemon consumes")
    time.sleep(2)
    assert second.stop() == 0, second.logs()
    time.sleep(3)
    load.stop()
    wait_until_consumed(first, topic, group)
    auditor.stop()
    assert first.stop() == 0, first.logs()
    assert assert_exactly_once(topic, group, queue) > 500


def test_a_full_queue_pauses_consuming_until_workers_drain_it(tmp_path: Path) -> None:
    """Above daemon.queue_high_watermark the daemon stops enqueueing; once workers drain the queue it resumes."""
    topic, group, queue, config = _setup(tmp_path, partitions=2, threads=1, max_poll_records=20)
    config.write_text(config.read_text().replace('"daemon": {', '"daemon": {"queue_high_watermark": 100, '
                                                                '"queue_low_watermark": 20, '))
    from harness import job_ids, kcat_produce

    kcat_produce(topic, [f'{{"n": {n}}}' for n in range(600)])
    daemon = Daemon(config).start().wait_ready()
    wait_for(lambda: daemon.metric("karafkad_backpressure_events_total", reason="queue_full") >= 1, 60,
             "the daemon pauses for the full queue")
    time.sleep(3)
    held = len(job_ids(queue))
    assert 100 <= held < 200, held  # paused at the watermark, well before the topic's end
    worker = RqWorkers(queue, count=1).start()
    try:
        wait_until_consumed(daemon, topic, group)
        wait_for(lambda: not job_ids(queue), 60, "the worker drains the queue")
    finally:
        worker.stop()  # (a stock worker's teardown can take a minute: RqWorkers.stop says why)
    assert daemon.metric("karafkad_backpressure_events_total", reason="queue_full") >= 2
    assert daemon.stop() == 0, daemon.logs()
    from harness import effects

    assert effects() == dict.fromkeys(range(600), 1)


def test_redis_that_may_evict_is_warned_about_or_refused(tmp_path: Path) -> None:
    """maxmemory-policy other than noeviction: a warning at start, or exit 3 with redis.require_durable."""
    from harness import redis_client

    *_, config = _setup(tmp_path)
    client = redis_client()
    client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        daemon = Daemon(config).start().wait_ready()
        assert daemon.stop() == 0
        assert any("evict" in str(e.get("problem", "")) for e in daemon.events()), daemon.logs()
        config.write_text(config.read_text().replace('"redis": {', '"redis": {"require_durable": true, '))
        strict = Daemon(config).start()
        assert strict.wait(60) == 3, strict.logs()
        assert "refusing to start" in strict.logs()
    finally:
        client.config_set("maxmemory-policy", "noeviction")


def _assignment_events(daemon: Daemon) -> int:
    return sum(1 for e in daemon.events() if e.get("event") == "assignment changed")


def test_sighup_applies_a_changed_routes_file_under_load(tmp_path: Path) -> None:
    """SIGHUP with a route added and a filter changed: applied between batches, nothing lost."""
    topic, group, queue, config = _setup(tmp_path)
    added_queue = unique("q2")
    load = Load(topic).start()
    daemon = Daemon(config).start().wait_ready()
    time.sleep(2)
    config.write_text(routes_yaml({group: {"threads": 2, "routes": [
        {"topic": topic, "handler": "effects.record", "queue": queue, "filter": "params.n % 2 == 0"},
        {"name": "added", "topic": topic, "handler": "effects.record", "queue": added_queue}]}}))
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: any(e.get("event") == "reload applied" for e in daemon.events()), 30, "the reload applies")
    time.sleep(3)
    load.stop()
    wait_until_consumed(daemon, topic, group)
    assert daemon.stop() == 0, daemon.logs()

    from harness import job_ids, job_prefix, topic_messages

    messages = topic_messages(topic)
    old = set(job_ids(queue))
    new = set(job_ids(added_queue))
    old_prefix = job_prefix(group, topic, f"{topic}->effects.record")
    new_prefix = job_prefix(group, topic, "added")
    assert new, "the added route never enqueued"
    for (p, o), n in messages.items():
        in_old = f"{old_prefix}-{p}-{o}" in old
        in_new = f"{new_prefix}-{p}-{o}" in new
        # Before the reload: only the old route; after it: the new routes. Either way, handled.
        assert in_old or in_new, f"message {n} at {p}/{o} was lost"
        if in_new:
            assert in_old == (n % 2 == 0), f"message {n} at {p}/{o} saw the new route but not the new filter"
    assert len(job_ids(queue)) == len(old), "a job was enqueued twice"


def test_sighup_with_failing_route_tests_keeps_the_old_routes(tmp_path: Path) -> None:
    """SIGHUP with a file that compiles but fails the route tests beside it (as `start` ran them and they
    passed): rejected, the failing test named in the log, the old routes (no filter) go on."""
    topic, group, queue, config = _setup(tmp_path)
    route = f"{topic}->effects.record"
    config.with_name("routes_test.yaml").write_text(
        f"tests:\n  - {{name: odd numbers are jobs too, topic: {topic}, value: {{n: 1}}, "
        f"expect: [{{route: '{route}', enqueue: {{}}}}]}}\n")
    daemon = Daemon(config).start().wait_ready()
    config.write_text(config.read_text().replace('"queue": ', '"filter": "params.n % 2 == 0", "queue": '))
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: any(e.get("event", "").startswith("reload rejected") for e in daemon.events()), 30,
             "the reload is rejected")
    rejected = next(e for e in daemon.events() if e.get("event", "").startswith("reload rejected"))
    assert "route test 'odd numbers are jobs too' failed" in str(rejected["problems"])
    assert not any(e.get("event") == "reload applied" for e in daemon.events())
    load = Load(topic, batch=50).start()
    time.sleep(2)
    load.stop()
    wait_until_consumed(daemon, topic, group)
    assert daemon.stop() == 0, daemon.logs()
    assert assert_exactly_once(topic, group, queue) >= 50  # odd numbers too: the filter was not applied


def test_sighup_with_a_broken_file_keeps_the_old_routes(tmp_path: Path) -> None:
    """SIGHUP with a broken routes file: the old routes stay, the error is logged, consuming goes on."""
    topic, group, queue, config = _setup(tmp_path)
    daemon = Daemon(config).start().wait_ready()
    good = config.read_text()
    config.write_text(good.replace('"effects.record"', '"effects.no_such_function"'))
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: any(e.get("event", "").startswith("reload rejected") for e in daemon.events()), 30,
             "the reload is rejected")
    rejected = next(e for e in daemon.events() if e.get("event", "").startswith("reload rejected"))
    assert "no_such_function" in str(rejected["problems"])
    load = Load(topic, batch=50).start()
    time.sleep(2)
    load.stop()
    wait_until_consumed(daemon, topic, group)
    assert daemon.stop() == 0, daemon.logs()
    assert assert_exactly_once(topic, group, queue) >= 50
