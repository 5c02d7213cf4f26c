"""Sized batch routes (`batch: {max_messages, max_wait}`) against the real broker, Redis and a stock RQ worker."""

from __future__ import annotations

import json
import time
from pathlib import Path

from harness import (
    Daemon,
    RqWorkers,
    committed_offsets,
    create_topic,
    effects,
    end_offsets,
    job_ids,
    kcat_produce,
    redis_client,
    routes_yaml,
    unique,
    wait_for,
    wait_until_consumed,
)

from karafkad import defaults


def _jobs_run() -> list[tuple[int, list[int]]]:
    """Each job the worker ran, in the order it ran them: its partition and its messages' offsets."""
    return [(job["partition"], job["offsets"])
            for job in map(json.loads, redis_client().lrange("effects:jobs", 0, -1))]


def test_a_batch_route_gathers_up_to_max_messages_across_polls(tmp_path: Path) -> None:
    """4,000 messages on 8 partitions, polled 100 at a time, through `batch: {max_messages: 200, max_wait: 0.5}`,
    run by a stock `rq worker`: every message in exactly one job, no job above 200, jobs carrying more than one
    poll's worth, and each partition's jobs run in offset order, covering its offsets one after the other."""
    count, most, per_poll = 4000, 200, 100
    topic = create_topic(unique("views"), partitions=8)
    group, queue = unique("g"), unique("q")
    kcat_produce(topic, [f'k{n}|{{"n": {n}}}' for n in range(count)], key_separator="|")  # keys: all 8 partitions
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"max_poll_records": per_poll, "routes": [
        {"topic": topic, "handler": "effects.record_jobs", "queue": queue,
         "batch": {"max_messages": most, "max_wait": 0.5}}]}}))
    worker = RqWorkers(queue, count=1).start()
    try:
        daemon = Daemon(config).start().wait_ready()
        started = time.monotonic()
        wait_for(lambda: redis_client().hlen("effects") >= count, 120, "the worker ran every message")
        seconds = time.monotonic() - started
        wait_until_consumed(daemon, topic, group)
    finally:
        worker.stop()  # (a stock worker's teardown can take a minute: RqWorkers.stop says why)
    print(f"\n{count} messages through 8 partitions, jobs of up to {most}: {seconds:.2f} s from the daemon's "
          f"joining to the last job run, {count / seconds:.0f} messages/s end to end")
    assert daemon.stop() == 0, daemon.logs()
    assert effects() == dict.fromkeys(range(count), 1)
    jobs = _jobs_run()
    assert max(len(offsets) for _, offsets in jobs) <= most
    assert any(len(offsets) > per_poll for _, offsets in jobs), [len(o) for _, o in jobs]
    ends = end_offsets(topic)
    for partition, end in ends.items():
        covered = [offset for p, offsets in jobs if p == partition for offset in offsets]
        assert covered == list(range(end)), (partition, [o[0] for p, o in jobs if p == partition])
    assert len(jobs) <= count // most + 2 * len(ends), len(jobs)  # not a job per poll (count // per_poll = 40)


def test_a_gathered_batch_is_committed_within_max_wait(tmp_path: Path) -> None:
    """A trickle far below max_messages: each message waits max_wait for its batch to fill (it is not committed
    sooner), then its batch is written and committed within max_wait and a poll of being produced."""
    max_wait = 2.0
    late = max_wait + defaults.POLL_TIMEOUT_MS / 1000 + 1.0  # + reading committed offsets through an admin client
    topic = create_topic(unique("trickle"))
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [
        {"topic": topic, "handler": "effects.record_jobs", "queue": queue,
         "batch": {"max_messages": 500, "max_wait": max_wait}}]}}))
    daemon = Daemon(config).start().wait_ready()
    waited = []
    for n in range(3):
        before = time.monotonic()
        kcat_produce(topic, [json.dumps({"n": n})])
        produced = time.monotonic()
        wait_for(lambda n=n: committed_offsets(group, topic).get(0) == n + 1, 30, f"message {n} is committed",
                 interval=0.05)
        committed = time.monotonic()
        waited.append((round(committed - before, 2), round(committed - produced, 2)))
    print(f"\nseconds from producing each message to its commit (from before, from after kcat): {waited}")
    assert all(since_before >= max_wait and since_produced <= late for since_before, since_produced in waited), \
        waited
    assert daemon.stop() == 0, daemon.logs()
    assert len(job_ids(queue)) == 3  # a job per message: each batch was decided by its max_wait, alone
