"""Redis behind Sentinel, replica-acknowledged commits, and a Redis per group, against real redis-server and
redis-sentinel processes (scripts/redis-ha: a primary, a replica, three sentinels) and the real broker.

What the promise is: with `redis.min_replicas_acked: 1` an offset is committed only once a replica holds
its job, so a failover to that replica loses nothing. With 0 (Redis's own default) replication is
asynchronous and a failover can lose what only the old primary had; the tests below measure it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import (
    BIN,
    REDIS_URL,
    CommitAuditor,
    Daemon,
    Load,
    assert_exactly_once,
    committed_offsets,
    create_topic,
    effects,
    end_offsets,
    job_ids,
    job_prefix,
    karafkad,
    kcat_produce,
    redis_client,
    routes_yaml,
    topic_messages,
    unique,
    wait_for,
    wait_until_consumed,
)
from redisha import RedisHA

from karafkad.store.keys import MARK_PREFIX

ROUTE = "->effects.record"


@pytest.fixture(scope="module")
def redis_ha() -> Iterator[RedisHA]:
    """scripts/redis-ha for this module: started if it is not running, stopped at the end if it was."""
    ha = RedisHA()
    started = not ha.running()
    if started:
        ha.start()
    yield ha
    if started:
        ha.stop()


@pytest.fixture
def ha(redis_ha: RedisHA) -> Iterator[RedisHA]:
    """Whole again before each test (a failed test may leave a node killed or frozen), and emptied."""
    redis_ha.heal()
    redis_ha.client().flushall()
    yield redis_ha
    redis_ha.heal()


def write_routes(path: Path, groups: dict[str, Any], redis: dict[str, Any]) -> Path:
    document = json.loads(routes_yaml(groups))
    document["redis"] = redis  # replaced, not merged: a sentinel section takes no url
    path.write_text(json.dumps(document, indent=2))
    return path


def one_route(topic: str, queue: str) -> dict[str, Any]:
    return {"routes": [{"topic": topic, "handler": "effects.record", "queue": queue}]}


def waiting_reasons(daemon: Daemon) -> list[str]:
    """What the daemon's threads say they are paused for (the status page's `waiting`)."""
    _, body = daemon.get("/status.json")
    return [t["waiting"] for g in json.loads(body)["groups"].values() for t in g["threads"] if t.get("waiting")]


def lost_and_duplicated(topic: str, group: str, queue: str, client: Any) -> tuple[set[tuple[int, int]], list[str]]:
    """(partition, offset)s of the topic without a job in `client`'s Redis, and job ids queued twice."""
    prefix = job_prefix(group, topic, topic + ROUTE)
    ids = job_ids(queue, client)
    have = set(ids)
    lost = {po for po in topic_messages(topic) if f"{prefix}-{po[0]}-{po[1]}" not in have}
    return lost, sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("acked", [1, 0], ids=["min_replicas_acked 1", "min_replicas_acked 0"])
def test_a_killed_primary_under_load_fails_over_and_the_daemon_follows(tmp_path: Path, ha: RedisHA, acked: int,
                                                                       record_property: Any) -> None:
    """kill -9 of the Redis primary under continuous load: Sentinel promotes the replica and karafkad
    follows it without exiting. With min_replicas_acked 1 every message is exactly one job (checked by
    id against the topic) and no offset was ever committed ahead of a job the current primary holds.
    With 0, what was lost is measured: only messages already in the topic when the primary died can be
    missing, nothing is doubled, and the figure is printed (docs/scaling.md quotes it)."""
    topic, group, queue = create_topic(unique("ha"), partitions=4), unique("g"), unique("q")
    redis = ha.redis_section(min_replicas_acked=acked, replica_ack_timeout_ms=500)
    config = write_routes(tmp_path / "routes.yaml", {group: one_route(topic, queue)}, redis)
    daemon = Daemon(config).start().wait_ready()
    load = Load(topic, batch=40, rate=400).start()
    auditor = CommitAuditor(topic, group, queue, client=ha.client()).start() if acked else None
    try:
        before = ha.client()
        wait_for(lambda: len(job_ids(queue, before)) >= 800, 60, "800 jobs before the fault")
        old = ha.primary_port()
        at_kill = end_offsets(topic)
        node = ha.kill_primary()
        ha.wait_failover(old)
        if acked:
            # The new primary has no replica yet: nothing can be acknowledged, so nothing is committed.
            wait_for(lambda: any(r.startswith("replicas:") for r in waiting_reasons(daemon)), 30,
                     "the daemon says it waits for replicas")
            held = committed_offsets(group, topic)
            time.sleep(2)
            assert committed_offsets(group, topic) == held
        ha.start_node(node)  # the old primary comes back as the new one's replica
        time.sleep(3)  # more load after the failover
    finally:
        load.stop()
    wait_until_consumed(daemon, topic, group, timeout=120)
    assert daemon.proc is not None and daemon.proc.poll() is None, "the daemon exited during the failover"
    if auditor is not None:
        auditor.stop()
        checked = assert_exactly_once(topic, group, queue, route=topic + ROUTE, client=ha.client())
        assert checked > 1000
    else:
        lost, duplicated = lost_and_duplicated(topic, group, queue, ha.client())
        assert duplicated == []
        late = sorted(po for po in lost if po[1] >= at_kill.get(po[0], 0))
        assert late == [], f"messages produced after the primary died were lost: {late[:5]}"
        produced = len(topic_messages(topic))
        record_property("lost", len(lost))
        print(f"min_replicas_acked 0: primary killed under load, {len(lost)} of {produced} messages lost")
    assert daemon.stop() == 0, daemon.logs()[-3000:]


@pytest.mark.parametrize("acked", [0, 1], ids=["min_replicas_acked 0", "min_replicas_acked 1"])
def test_a_replica_promoted_while_behind_loses_only_what_was_committed_without_it(tmp_path: Path, ha: RedisHA,
                                                                                  acked: int) -> None:
    """The failover that loses data, made certain: the replica is cut off (frozen, its replication link
    dropped, as in a network partition), 300 messages arrive, the primary dies, the replica comes back
    and is promoted. With min_replicas_acked 0 those 300 were
    committed on the primary's word and are gone (exactly them: the messages after are all jobs). With 1
    they were never committed, so they are consumed again from the new primary: nothing is lost."""
    topic, group, queue = create_topic(unique("hb"), partitions=2), unique("g"), unique("q")
    redis = ha.redis_section(min_replicas_acked=acked, replica_ack_timeout_ms=500)
    config = write_routes(tmp_path / "routes.yaml", {group: one_route(topic, queue)}, redis)
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(100)])
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group, timeout=60)
    before = end_offsets(topic)
    ha.freeze("replica")
    ha.cut_off_replica()
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(100, 400)])
    if acked:
        wait_for(lambda: any(r.startswith("replicas:") for r in waiting_reasons(daemon)), 30,
                 "the daemon says it waits for replicas")
        assert committed_offsets(group, topic) == before
    else:
        wait_until_consumed(daemon, topic, group, timeout=60)  # committed on the primary's word alone
    old = ha.primary_port()
    node = ha.kill_primary()
    ha.thaw("replica")
    ha.wait_failover(old)
    if acked:
        ha.start_node(node)  # a replica to acknowledge the writes again
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(400, 500)])
    wait_until_consumed(daemon, topic, group, timeout=120)
    assert daemon.proc is not None and daemon.proc.poll() is None
    lost, duplicated = lost_and_duplicated(topic, group, queue, ha.client())
    assert duplicated == []
    frozen_window = {po for po, n in topic_messages(topic).items() if 100 <= n < 400}
    if acked:
        assert lost == set()
    else:
        assert lost == frozen_window, f"lost {len(lost)}, expected the {len(frozen_window)} of the frozen window"
    assert daemon.stop() == 0, daemon.logs()[-3000:]


def test_a_replica_that_stops_acknowledging_pauses_consumption_until_it_is_back(tmp_path: Path,
                                                                                ha: RedisHA) -> None:
    """min_replicas_acked 1 and a frozen replica: nothing more is committed, the partitions pause, the
    status page says the replicas are why; thawed, everything is delivered once."""
    topic, group, queue = create_topic(unique("hr"), partitions=2), unique("g"), unique("q")
    redis = ha.redis_section(min_replicas_acked=1, replica_ack_timeout_ms=300)
    config = write_routes(tmp_path / "routes.yaml", {group: one_route(topic, queue)}, redis)
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(100)])
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group, timeout=60)
    before = committed_offsets(group, topic)
    ha.freeze("replica")
    try:
        kcat_produce(topic, [json.dumps({"n": n}) for n in range(100, 300)])
        wait_for(lambda: any(r.startswith("replicas:") for r in waiting_reasons(daemon)), 30,
                 "the daemon says it waits for replicas")
        _, page = daemon.get("/")
        assert "replicas: " in page and "acknowledged" in page, "the status page does not say why it paused"
        assert daemon.metric("karafkad_backpressure_events_total", group=group, reason="replicas") >= 1
        time.sleep(2)
        assert committed_offsets(group, topic) == before
        assert daemon.metric("karafkad_paused_partitions", group=group) == 2
    finally:
        ha.thaw("replica")
    wait_until_consumed(daemon, topic, group, timeout=60)
    assert waiting_reasons(daemon) == []
    assert_exactly_once(topic, group, queue, route=topic + ROUTE, client=ha.client())
    assert daemon.stop() == 0, daemon.logs()[-3000:]


def test_two_groups_on_two_redis_servers_each_get_their_jobs_and_workers(tmp_path: Path, ha: RedisHA) -> None:
    """One group on the plain Redis, one on the Sentinel-managed one: each group's jobs, marks and queue are
    in its own Redis only; `karafkad worker` runs one worker per Redis and each message's handler runs
    once; the status page and metrics name each group's Redis and queue depths."""
    light_topic, heavy_topic = create_topic(unique("tl"), partitions=2), create_topic(unique("th"), partitions=4)
    light, heavy = unique("gl"), unique("gh")
    light_queue, heavy_queue = unique("ql"), unique("qh")
    groups = {light: one_route(light_topic, light_queue),
              heavy: {**one_route(heavy_topic, heavy_queue), "redis": ha.redis_section()}}
    config = write_routes(tmp_path / "routes.yaml", groups, {"url": REDIS_URL})
    kcat_produce(light_topic, [json.dumps({"n": n}) for n in range(300)])
    kcat_produce(heavy_topic, [json.dumps({"n": 1_000_000 + n}) for n in range(500)])
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, light_topic, light, timeout=60)
    wait_until_consumed(daemon, heavy_topic, heavy, timeout=60)
    main, other = redis_client(), ha.client()
    assert assert_exactly_once(light_topic, light, light_queue, route=light_topic + ROUTE, client=main) == 300
    assert assert_exactly_once(heavy_topic, heavy, heavy_queue, route=heavy_topic + ROUTE, client=other) == 500
    assert job_ids(heavy_queue, main) == [] and job_ids(light_queue, other) == []
    # The dedupe marks live beside the jobs (a redelivery checks the Redis the job went to).
    assert any(heavy_topic.encode() in k for k in other.keys(MARK_PREFIX + "*")), other.keys("karafkad:*")[:10]
    assert not any(heavy_topic.encode() in k for k in main.keys("karafkad:*"))
    status = json.loads(daemon.get("/status.json")[1])
    assert status["groups"][heavy]["redis"].startswith("sentinel karafkad via 127.0.0.1:")
    assert status["groups"][light]["redis"] == REDIS_URL
    # Each queue's depth asked of its own Redis (the page reads them at most every few seconds).
    wait_for(lambda: json.loads(daemon.get("/status.json")[1])["queues"]["depths"] == {light_queue: 300,
                                                                                      heavy_queue: 500},
             10, "the status page shows each queue's depth from its own Redis")
    assert daemon.stop() == 0, daemon.logs()[-3000:]

    worker = karafkad("worker", "-c", config, "--burst", "--no-fork", timeout=180)
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert "the queues need 2 workers, one per Redis and serializer" in worker.stderr
    done = effects()
    assert {n: c for n, c in done.items() if n < 1_000_000} == dict.fromkeys(range(300), 1)
    assert {n: c for n, c in done.items() if n >= 1_000_000} == dict.fromkeys(range(1_000_000, 1_000_500), 1)


def test_a_worker_follows_the_primary_through_a_failover(tmp_path: Path, ha: RedisHA) -> None:
    """`karafkad worker` on the Sentinel Redis keeps running across a failover and runs the jobs the
    daemon writes to the new primary (each once: RQ's own promise for jobs not in hand at the fault)."""
    topic, group, queue = create_topic(unique("hw")), unique("g"), unique("q")
    config = write_routes(tmp_path / "routes.yaml", {group: one_route(topic, queue)},
                          ha.redis_section(min_replicas_acked=1))
    daemon = Daemon(config).start().wait_ready()
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([str(BIN / "karafkad"), "worker", "-c", str(config), "--no-fork"],
                              stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        kcat_produce(topic, [json.dumps({"n": n}) for n in range(50)])
        wait_for(lambda: len(effects()) == 50, 60, "the worker ran the first 50 jobs")
        old = ha.primary_port()
        node = ha.kill_primary()
        ha.wait_failover(old)
        ha.start_node(node)
        kcat_produce(topic, [json.dumps({"n": n}) for n in range(50, 100)])
        wait_for(lambda: len(effects()) == 100, 90, "the worker ran the 50 jobs written after the failover")
        assert worker.poll() is None, "the worker exited at the failover"
        assert effects() == dict.fromkeys(range(100), 1)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(60)
        finally:
            worker.kill()
            daemon.stop()
    assert worker.returncode == 0, log.read_text()[-3000:]
