"""Kafka's order survives the hand-off: the jobs of one key run one after another, on any number of stock RQ
workers (routes with `ordering`), and what kills the daemon or a worker neither breaks that order nor loses or
doubles a job.

Every test here runs stock `rq worker`s (RQ's SimpleWorker: a job runs in the worker process, so a kill -9 of
the worker kills its job) over the handler effects.record_order, which sleeps a random 0-20 ms and then
records `key:n` in the order the handlers finished. A message's key is `k<n % keys>`; its place in its key's
order is its offset (read back from the topic, not trusted from the producer).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from harness import (
    Daemon,
    RqWorkers,
    create_topic,
    job_prefix,
    karafkad,
    kcat_produce,
    kcat_read,
    redis_client,
    routes_yaml,
    rq_worker_burst,
    unique,
    wait_for,
    wait_until_consumed,
)
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from karafkad.config.settings import JobOptions
from karafkad.pipeline.outcomes import JobNaming, PendingJob
from karafkad.routes.jobs import build_template
from karafkad.store.enqueuer import Enqueuer, PartitionWrite
from karafkad.store.keys import deferred_key, queue_key

SLEEP_MS = 20
"""The handler sleeps a random 0..SLEEP_MS ms: long enough that four workers overlap on every key."""


def _produce(topic: str, numbers: range, keys: int) -> None:
    kcat_produce(topic, [f"k{n % keys}|" + json.dumps({"n": n, "key": f"k{n % keys}", "sleep_ms": SLEEP_MS})
                         for n in numbers], key_separator="|")


def _offset_order(topic: str) -> dict[str, list[int]]:
    """Each key's message numbers in offset order, as the topic holds them."""
    by_key: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for line in kcat_read(topic, "%k %p %o %s\\n", timeout=120):
        key, _partition, offset, value = line.split(" ", 3)
        by_key[key].append((int(offset), json.loads(value)["n"]))
    return {key: [n for _, n in sorted(messages)] for key, messages in by_key.items()}


def _ran() -> list[tuple[str, int]]:
    """(key, n) of every handler that finished, in the order they finished."""
    out = []
    for item in redis_client().lrange("effects:order", 0, -1):
        key, n = item.decode().split(":")
        out.append((key, int(n)))
    return out


def _runs_by_key(ran: list[tuple[str, int]]) -> dict[str, list[int]]:
    """Each key's numbers in the order they ran; a run repeated at once (RQ ran a job again after its worker was
    killed) counts once."""
    by_key: dict[str, list[int]] = defaultdict(list)
    for key, n in ran:
        runs = by_key[key]
        if not runs or runs[-1] != n:
            runs.append(n)
    return by_key


def _early(expected: dict[str, list[int]], ran: list[tuple[str, int]]) -> int:
    """How many effects ran before an earlier message of their key (issue 19's measure)."""
    early = 0
    for key, runs in _runs_by_key(ran).items():
        position = {n: i for i, n in enumerate(expected[key])}
        for i, n in enumerate(runs):
            if any(position[m] < position[n] for m in runs[i + 1:]):
                early += 1
    return early


def _jobs_made(group: str, topic: str, route: str) -> list[str]:
    """The ids of every job karafkad wrote for the route (their hashes outlive the run by result_ttl)."""
    pattern = f"rq:job:{job_prefix(group, topic, route)}-*"
    keys = (key.decode().removeprefix("rq:job:") for key in redis_client().scan_iter(pattern, count=1000))
    return sorted(key for key in keys if ":" not in key)  # not their dependents sets


def _setup(tmp_path: Path, *, ordering: str, partitions: int = 8, route: dict[str, Any] | None = None
           ) -> tuple[str, str, str, Path]:
    topic = create_topic(unique("orders"), partitions)
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [{
        "name": "orders", "topic": topic, "handler": "effects.record_order", "queue": queue, "ordering": ordering,
        **(route or {})}]}}))
    return topic, group, queue, config


def _waiting(queue: str) -> str:
    """Where the jobs of `queue` are, for a test that waited too long."""
    client = redis_client()
    return (f"ran {client.llen('effects:order')}, queued {client.llen(queue_key(queue))}, deferred "
            f"{client.zcard(deferred_key(queue))}, ready {client.zcard(f'rq:ready:{queue}')}, started "
            f"{client.zcard(f'rq:wip:{queue}')}, failed {client.zcard(f'rq:failed:{queue}')}")


def _wait_for_effects(count: int, timeout: float, queue: str = "", daemon: Daemon | None = None) -> None:
    """Until `count` handlers have run; a timeout says where the jobs are (and the daemon's stacks, if given)."""
    client = redis_client()
    wait_for(lambda: client.llen("effects:order") >= count, timeout,
             lambda: f"{count} handlers have run ({_waiting(queue)})"
                     + (f"; the daemon's log:\n{daemon.stacks()}" if daemon is not None else ""))


def _load(tmp_path: Path, ordering: str, messages: int, keys: int) -> tuple[dict[str, list[int]], list[Any], str]:
    topic, group, queue, config = _setup(tmp_path, ordering=ordering)
    daemon = Daemon(config).start().wait_ready()
    workers = RqWorkers(queue, count=4).start()
    _produce(topic, range(messages), keys)
    _wait_for_effects(messages, timeout=60 + messages / 20, queue=queue, daemon=daemon)
    workers.stop()
    assert len(_jobs_made(group, topic, "orders")) == messages
    return _offset_order(topic), _ran(), queue


def _in_order(tmp_path: Path, messages: int) -> None:
    expected, ran, queue = _load(tmp_path, "key", messages, 200)
    assert _early(expected, ran) == 0
    assert sorted(n for _, n in ran) == list(range(messages))
    assert _runs_by_key(ran) == expected
    client = redis_client()
    assert client.llen(queue_key(queue)) == client.zcard(deferred_key(queue)) == 0


def test_each_key_s_jobs_run_in_offset_order_on_four_stock_workers(tmp_path: Path) -> None:
    """2,000 messages (20,000 with --soak) over 200 keys on 8 partitions, `ordering: key`, four workers: every
    key's handlers ran in its offset order, every message once, nothing left waiting."""
    _in_order(tmp_path, 2_000)


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_each_key_s_jobs_run_in_offset_order_on_four_stock_workers_at_full_size(tmp_path: Path) -> None:
    """Issue 19's full load: 20,000 messages over 200 keys on 8 partitions."""
    _in_order(tmp_path, 20_000)


def test_without_ordering_four_workers_run_a_key_s_jobs_out_of_order(tmp_path: Path) -> None:
    """`ordering: none`, 1,000 messages over 10 keys (issue 19's own reproduction): some effects ran before an
    earlier message of their key, so the check above can fail."""
    expected, ran, _ = _load(tmp_path, "none", 1_000, 10)
    assert sorted(n for _, n in ran) == list(range(1_000))
    assert _early(expected, ran) > 0


def _faults(tmp_path: Path, messages: int) -> None:
    """`ordering: key` under load; the daemon killed -9 twice and one worker once. The killed worker's job is
    then RQ's abandoned job: RQ's own handling of it (StartedJobRegistry.cleanup, which a worker's maintenance
    runs every 10 minutes; run here once nothing else runs) retries it (job.retry), and its key goes on."""
    topic, group, queue, config = _setup(tmp_path, ordering="key", route={"job": {"retry": {"max": 1}}})
    daemon = Daemon(config).start().wait_ready()
    workers = RqWorkers(queue, count=4).start()
    chunk = messages // 10
    for step in range(10):
        _produce(topic, range(step * chunk, (step + 1) * chunk), 200)
        if step in (2, 6):
            daemon.kill()
            daemon = Daemon(config).start().wait_ready()
        if step == 4:
            time.sleep(0.5)  # let every worker get a job in hand
            workers.kill_one()
    wait_until_consumed(daemon, topic, group, timeout=120)
    client = redis_client()
    wait_for(lambda: client.llen(queue_key(queue)) == 0 and client.zcard(deferred_key(queue)) <= messages // 200,
             60 + messages / 20, lambda: "the workers ran everything that was not waiting for the killed "
                                          f"worker's job ({_waiting(queue)})")
    workers.stop()
    StartedJobRegistry(queue, connection=client, serializer=JSONSerializer).cleanup(timestamp=time.time() + 3600)
    _clean_intermediate_queue(queue)
    assert rq_worker_burst(queue, timeout=120).returncode == 0
    assert daemon.stop() == 0
    ran = _ran()
    assert len(_jobs_made(group, topic, "orders")) == messages
    assert sorted({n for _, n in ran}) == list(range(messages))
    assert len(ran) - messages <= 1  # at most the killed job ran twice (RQ runs a job at least once)
    expected = _offset_order(topic)
    assert _early(expected, ran) == 0
    assert _runs_by_key(ran) == expected


def _clean_intermediate_queue(queue: str) -> None:
    """A worker killed between taking a job off the queue and starting it leaves it in RQ's intermediate queue
    (one run of this test in six hit that window); RQ's maintenance fails or retries such a job once it has been
    seen there for a minute (IntermediateQueue.cleanup). That, with the minute taken as passed."""
    from rq import Queue, SimpleWorker

    client = redis_client()
    rq_queue = Queue(queue, connection=client, serializer=JSONSerializer)
    stuck = rq_queue.intermediate_queue.get_job_ids()
    if not stuck:
        return
    for job_id in stuck:
        client.set(rq_queue.intermediate_queue.get_first_seen_key(job_id), time.time() - 120)
    rq_queue.intermediate_queue.cleanup(SimpleWorker([rq_queue], connection=client, serializer=JSONSerializer),
                                        rq_queue)


def test_key_order_survives_kill_9_of_the_daemon_twice_and_of_a_worker(tmp_path: Path) -> None:
    """2,000 messages (20,000 with --soak) over 200 keys: in order per key, nothing lost, nothing twice."""
    _faults(tmp_path, 2_000)


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_key_order_survives_kill_9_of_the_daemon_twice_and_of_a_worker_at_full_size(tmp_path: Path) -> None:
    """Issue 19's full load: 20,000 messages over 200 keys on 8 partitions."""
    _faults(tmp_path, 20_000)


def test_karafkad_worker_moves_a_finished_job_s_waiting_jobs_onto_the_queue_itself(tmp_path: Path) -> None:
    """No daemon: four `karafkad worker --no-fork` processes run two keys' chains of 30 jobs each to the end, in
    order. (Four stock workers stall here: RQ 3.0 gives up moving a ready job when another worker writes to the
    ready registry meanwhile, and leaves it to its 10-minute maintenance; store/ready.py.)"""
    topic, group, queue, config = _setup(tmp_path, ordering="key", partitions=1)
    template = build_template(queue, "effects.record_order", JobOptions(), ordered=True)
    naming = JobNaming("orders", template, "w-0-", "", "d@", ordering="key", chain="w:0")
    jobs = [PendingJob(naming, n, template.encode([{"n": n, "key": f"k{n % 2}", "sleep_ms": 5}]),
                       link=f"k:k{n % 2}".encode()) for n in range(60)]
    Enqueuer(redis_client(), 3600).write([PartitionWrite(group, topic, 0, 59, jobs)])
    worker = karafkad("worker", "-c", str(config), queue, "--burst", "--no-fork", "--processes", "4", timeout=120)
    assert worker.returncode == 0, worker.stderr
    ran = _ran()
    assert len(ran) == 60
    assert _runs_by_key(ran) == {"k0": list(range(0, 60, 2)), "k1": list(range(1, 60, 2))}


def test_partition_order_holds_for_a_route_and_a_batch_route_on_four_workers(tmp_path: Path) -> None:
    """`ordering: partition` on a route and on a batch route: every partition's jobs ran in offset order."""
    topic = create_topic(unique("events"), 4)
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    routes = [{"name": "each", "topic": topic, "handler": "effects.record_partition_order", "queue": queue,
               "ordering": "partition"},
              {"name": "batches", "topic": topic, "handler": "effects.record_partition_batches", "queue": queue,
               "ordering": "partition", "batch": True}]
    config.write_text(routes_yaml({group: {"max_poll_records": 50, "routes": routes}}))
    Daemon(config).start().wait_ready()
    workers = RqWorkers(queue, count=4).start()
    _produce(topic, range(1_000), 40)
    client = redis_client()
    wait_for(lambda: client.llen("effects:order:each") + client.llen("effects:order:batches") >= 2_000, 120,
             "every message ran on both routes")
    workers.stop()
    for route in ("each", "batches"):
        ran: dict[int, list[int]] = defaultdict(list)
        for item in client.lrange(f"effects:order:{route}", 0, -1):
            partition, offset = map(int, item.decode().split(":"))
            ran[partition].append(offset)
        assert sorted(ran) == [0, 1, 2, 3]
        assert all(offsets == sorted(offsets) for offsets in ran.values()), route
        assert sum(map(len, ran.values())) == 1_000


def test_a_replay_of_an_ordered_route_runs_in_key_order(tmp_path: Path) -> None:
    """A replay from the start makes every message a new job (`-r1`), and those run in key order too."""
    topic, group, queue, config = _setup(tmp_path, ordering="key", partitions=4)
    daemon = Daemon(config).start().wait_ready()
    workers = RqWorkers(queue, count=4).start()
    _produce(topic, range(500), 50)
    _wait_for_effects(500, timeout=120)
    assert daemon.stop() == 0
    client = redis_client()
    client.delete("effects:order")
    replay = karafkad("replay", "-c", str(config), "-g", group, "--earliest")
    assert replay.returncode == 0, replay.stderr
    Daemon(config).start().wait_ready()
    _wait_for_effects(500, timeout=120)
    workers.stop()
    ran = _ran()
    assert sorted(n for _, n in ran) == list(range(500))
    expected = _offset_order(topic)
    assert _early(expected, ran) == 0
    assert len([j for j in _jobs_made(group, topic, "orders") if j.endswith("-r1")]) == 500
