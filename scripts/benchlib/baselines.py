"""The references karafkad is compared with: raw kafka-python, the obvious loop, RQ's enqueue_many, Redis's cost.

The two that consume Kafka run in a child process of their own (a fresh interpreter, spawned), so
that their CPU is read from /proc exactly as a karafkad daemon's is, and go through the same backlog
procedure (benchlib.cpu.consume_backlog). The child tells the parent over a pipe when it has joined
and when it has consumed everything, then waits to be let go: closing the consumer is not measured.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from benchlib.cpu import consume_backlog, wait_until
from benchlib.data import KAFKA, SCHEMA, consumer_options, create_topic, fill, python_filter, redis, redis_calls, unique

# --- in the child process -------------------------------------------------------


def _join(consumer: Any, parent: Connection) -> None:
    """Poll the (still empty) topic until the group has assigned this consumer its partitions; say so."""
    while not consumer.assignment():
        consumer.poll(timeout_ms=100)
    parent.send("joined")


def _finish(consumer: Any, parent: Connection, result: dict[str, float]) -> None:
    """Hand the result over (the parent reads this process's CPU on receiving it), wait, then close."""
    parent.send(result)
    parent.recv()
    consumer.close()


def raw_consumer(parent: Connection, topic: str, count: int, tuned: bool) -> None:
    """Poll and discard. `tuned`: with karafkad's consumer settings; otherwise with kafka-python's
    defaults (only the group, offsets and auto-commit set), as a user's first consumer would be."""
    from kafka import KafkaConsumer

    options = consumer_options() if tuned else {
        "bootstrap_servers": KAFKA, "enable_auto_commit": False, "auto_offset_reset": "earliest"}
    consumer = KafkaConsumer(topic, group_id=unique("raw"), **options)
    _join(consumer, parent)
    seen, first = 0, 0.0
    while seen < count:
        for records in consumer.poll(timeout_ms=1000).values():
            if not first:
                first = time.perf_counter()
            seen += len(records)
    seconds = time.perf_counter() - first
    _finish(consumer, parent, {"messages": seen, "seconds": seconds, "rate": seen / seconds})


def obvious_consumer(parent: Connection, topic: str, count: int, queue_name: str) -> None:
    """kafka-python -> json.loads -> a jsonschema validator built once -> a Python filter ->
    Queue.enqueue per message -> commit per batch: what a user would write first."""
    import jsonschema
    from kafka import KafkaConsumer
    from rq import Queue
    from rq.serializers import JSONSerializer

    consumer = KafkaConsumer(topic, group_id=unique("obvious"), **consumer_options())
    validator = jsonschema.Draft202012Validator(SCHEMA)
    queue = Queue(queue_name, connection=redis(), serializer=JSONSerializer)
    _join(consumer, parent)
    seen, jobs, first = 0, 0, 0.0
    while seen < count:
        batch = consumer.poll(timeout_ms=1000)
        for records in batch.values():
            if not first:
                first = time.perf_counter()
            for record in records:
                seen += 1
                params = json.loads(record.value)
                if not validator.is_valid(params) or not python_filter(params):
                    continue
                queue.enqueue("bench_handlers.handle", params)
                jobs += 1
        if batch:
            consumer.commit()
    seconds = time.perf_counter() - first
    _finish(consumer, parent, {"messages": seen, "jobs": jobs, "seconds": seconds, "rate": seen / seconds})


# --- in the benchmark process ---------------------------------------------------


def run_in_child(target: Callable[..., None], name: str, values: list[bytes], workdir: Path,
                 *args: Any) -> dict[str, Any]:
    """Run a consumer (`raw_consumer`, `obvious_consumer`) in a child process on a fresh topic it
    joins empty, fill the topic with `values` while it is stopped, and measure it consuming them."""
    topic = unique(name)
    create_topic(topic)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing inherited from this one
    ours, theirs = context.Pipe()
    child = context.Process(target=target, args=(theirs, topic, len(values), *args), name=name, daemon=True)
    child.start()
    theirs.close()  # the child's end lives in the child now: if it dies, our end reads end-of-file
    assert child.pid is not None
    try:
        wait_until(ours.poll, name)
        _expect(ours, child, "joined")
        backlog = consume_backlog([child.pid], len(values), lambda: fill(topic, values, workdir),
                                  lambda: ours.poll(0.1), name)
        result: dict[str, Any] = _expect(ours, child, "a result")
        ours.send("close")
        child.join(60)
    finally:
        if child.is_alive():
            child.kill()
    return {**result, **backlog.fields(), **backlog.shares(name)}


def _expect(ours: Connection, child: BaseProcess, what: str) -> Any:
    """The child's next message; a child that died is named, not a bare EOFError."""
    try:
        return ours.recv()
    except EOFError:
        child.join(5)
        raise SystemExit(f"{child.name}: the child process ended (exit code {child.exitcode}) "
                         f"before sending {what}; its traceback is above") from None


def rq_enqueue_many(values: list[bytes], limit: int) -> dict[str, float]:
    """RQ's best path: Queue.enqueue_many in one pipeline per 500 jobs (enqueue only, no Kafka)."""
    from rq import Queue
    from rq.serializers import JSONSerializer

    client = redis()
    queue = Queue(unique("ref"), connection=client, serializer=JSONSerializer)
    params = [json.loads(v) for v in values[:limit]]
    started = time.perf_counter()
    for i in range(0, len(params), 500):
        with client.pipeline() as pipe:
            queue.enqueue_many([Queue.prepare_data("bench_handlers.handle", (p,)) for p in params[i:i + 500]],
                               pipeline=pipe)
            pipe.execute()
    seconds = time.perf_counter() - started
    jobs = client.llen(queue.key)
    return {"messages": len(params), "jobs": jobs, "seconds": seconds, "rate": len(params) / seconds}


def redis_cost(values: list[bytes], limit: int) -> dict[str, float]:
    """Redis's own CPU per job karafkad's enqueuer writes (500 per call), with the append-only file on
    (as the guarantees need) and off: where a single karafkad process's time goes is mostly here."""
    from karafkad.config.settings import JobOptions
    from karafkad.pipeline.outcomes import JobNaming, PendingJob
    from karafkad.routes.jobs import build_template
    from karafkad.store.enqueuer import Enqueuer, PartitionWrite

    client = redis()
    template = build_template("redis-cost", "bench_handlers.handle", JobOptions())
    naming = JobNaming("cost", template, "kd-cost-", "", "bench_handlers.handle <- cost[0]@")
    jobs = [PendingJob(naming, n, template.encode_json_text(v)) for n, v in enumerate(values[:limit])]

    def redis_cpu() -> float:
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def per_job(size: int = 500) -> tuple[float, float]:
        """Redis CPU µs and commands per job, writing batches of `size` jobs."""
        client.flushall()
        enqueuer, started, ran = Enqueuer(client, 86_400), redis_cpu(), redis_calls(client)
        for first in range(0, len(jobs), size):
            batch = jobs[first:first + size]
            enqueuer.write([PartitionWrite("cost", "cost", 0, batch[-1].offset, batch, -1)])
        cpu, calls = redis_cpu() - started, redis_calls(client) - ran - 2  # -2: the two INFO readings
        return cpu / len(jobs) * 1e6, calls / len(jobs)

    with_aof, per_job_commands = per_job()
    small_batches, small_batch_commands = per_job(10)
    client.config_set("appendonly", "no")
    try:
        without_aof, _ = per_job()
    finally:
        client.config_set("appendonly", "yes")
    return {"jobs": len(jobs), "us_per_job_appendonly": with_aof, "us_per_job_no_appendonly": without_aof,
            "rate": 1e6 / with_aof, "commands_per_job": per_job_commands,
            "us_per_job_batches_of_10": small_batches, "commands_per_job_batches_of_10": small_batch_commands}
