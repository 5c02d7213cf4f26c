"""karafkad end to end: daemons consuming a backlog (rate, CPU per message, outcome), and latency at a fixed rate."""

from __future__ import annotations

import json
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlib.cpu import consume_backlog, peak_rss_mb, wait_until
from benchlib.data import (
    KAFKA,
    PARTITIONS,
    create_topic,
    fill,
    make_keys,
    make_messages,
    redis,
    redis_calls,
    routes_file,
    rq_time,
    unique,
)
from karafkad.store.keys import deferred_key, job_key, queue_key

REDIS_HA_NODES = ("redis-ha-1", "redis-ha-2")
"""scripts/redis-ha's two nodes (pid file names): a primary and its replica both work for each job."""

BIN = Path(sys.executable).parent
WARMUP_SECONDS = 2
"""Left out of the latency figure: the first fetches, the script load and the first batches of a
fresh process are not the steady state it is about."""


class Daemon:
    """One `karafkad start` process, with its HTTP port (readiness, metrics) and a log file."""

    def __init__(self, config: Path, log: Path, instance_id: str | None = None) -> None:
        self.port = _free_port()
        self.log = open(log, "ab")  # noqa: SIM115  (closed in stop)
        static = ["--instance-id", instance_id] if instance_id else []
        self.proc = subprocess.Popen([str(BIN / "karafkad"), "start", "-c", str(config), "--http-port",
                                      str(self.port), "--log-format", "json", "--log-level", "warning", *static],
                                     stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def assigned(self) -> int:
        """Partitions assigned to this daemon's consumer threads, from its /metrics."""
        return int(self.metric("karafkad_assigned_partitions"))

    def metric(self, name: str) -> float:
        """A metric from its /metrics, summed over its labels."""
        total = 0.0
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as response:
            for line in response.read().decode().splitlines():
                if line.startswith((name + "{", name + " ")):
                    total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self) -> int:
        """SIGTERM (a drain, as systemd stops it) and its exit status; once stopped, only the status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # in case a failed run left it stopped
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self.log.close()
        return code


def start_daemons(config: Path, count: int, workdir: Path, name: str, partitions: int = PARTITIONS) -> list[Daemon]:
    """Start `count` daemons in one group and wait until they are ready with every partition assigned."""
    daemons = [Daemon(config, workdir / f"{name}-{i}.log") for i in range(count)]
    try:
        wait_until(lambda: all(d.ready() for d in daemons) and sum(d.assigned() for d in daemons) == partitions,
                   f"karafkad ({name}; logs in {workdir})")
    except BaseException:
        for daemon in daemons:
            daemon.stop()
        raise
    return daemons


def karafkad_run(count: int, passing: int, workdir: Path, processes: int, threads: int, *,
                 partitions: int = PARTITIONS, redis_section: dict[str, Any] | None = None,
                 client: Callable[[], Any] = redis, keys: int = 0, route: dict[str, Any] | None = None,
                 inspect: Callable[[Any, str], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Daemons join a fresh, empty topic and consume it once filled (benchlib.cpu.consume_backlog).

    The rate is messages over the span from the first to the last job's enqueued_at (a waiting job's,
    which RQ gives none, from its created_at: the same stamp, see store/enqueue.lua). The CPU is the
    daemons' own, from joined to the moment the last job is in Redis. Watched through one cheap LLEN
    (and ZCARD of the deferred registry, for an ordered route's waiting jobs) a tenth of a second (a Kafka
    admin client per check would cost the machine a good share of a core while the daemons run); the
    commits are checked afterwards. `redis_section` sends the jobs elsewhere (scripts/redis-ha through its
    sentinels), `client` reads them there. `keys`: the messages carry keys, drawn from this many
    (data.make_keys); `route` adds options to the route (`ordering`); `inspect(client, queue)` reads what
    it wants of Redis after the run (its answer is the row's `inspected`).
    """
    topic, group, queue = unique("kd"), unique("bench"), unique("kd")
    create_topic(topic, partitions)
    values, _ = make_messages(count)
    message_keys = make_keys(count, keys) if keys else None
    config = routes_file(workdir, group, topic, queue, threads, redis_section=redis_section, route_options=route)
    daemons = start_daemons(config, processes, workdir, group, partitions)
    watcher, checks = client(), 0
    ordered = (route or {}).get("ordering", "none") != "none"

    def written() -> int:
        if not ordered:
            return int(watcher.llen(queue_key(queue)))
        with watcher.pipeline(transaction=False) as pipe:
            pipe.llen(queue_key(queue)).zcard(deferred_key(queue))
            return sum(pipe.execute())

    def consumed() -> bool:
        nonlocal checks
        checks += 1
        if written() >= passing:
            return True
        if checks % 100 == 0 and _committed(group, topic) >= count:
            return True  # all committed with fewer jobs than expected: the outcome check reports it
        time.sleep(0.1)
        return False

    calls_before = redis_calls(watcher)
    try:
        backlog = consume_backlog([d.pid for d in daemons], count,
                                  lambda: fill(topic, values, workdir, message_keys), consumed,
                                  f"karafkad (logs in {workdir})", REDIS_HA_NODES if redis_section else ("redis",))
        # The daemons' commands: INFO's count less this watcher's own (one or two a check, one INFO)
        calls = redis_calls(watcher) - calls_before - checks * (2 if ordered else 1) - 1
        wait_until(lambda: _committed(group, topic) >= count, f"karafkad committing (logs in {workdir})", 120)
        rss = max(peak_rss_mb(d.pid) for d in daemons)
    finally:
        codes = [d.stop() for d in daemons]
    jobs = client()
    ids = jobs.lrange(queue_key(queue), 0, -1) + jobs.zrange(deferred_key(queue), 0, -1)
    times = enqueued_times(jobs, ids)
    span = max(times) - min(times)
    inspected = {"inspected": inspect(jobs, queue)} if inspect else {}
    return {"processes": processes, "threads": threads, "partitions": partitions, "messages": count, "jobs": len(ids),
            "jobs_expected": passing, "duplicates": len(ids) - len(set(ids)), "seconds": span,
            "rate": count / span if span else 0.0, "cpu_seconds_per_100k": backlog.cpu_seconds / count * 100_000,
            **backlog.fields(), "peak_rss_mb": rss, "exit_codes": codes, **backlog.shares("karafkad"),
            "keys": keys, "route": route or {}, "redis_commands_per_job": calls / len(ids) if ids else 0.0,
            "redis_us_per_job": backlog.redis_seconds / len(ids) * 1e6 if ids else 0.0,
            "waiting_jobs": len(ids) - int(jobs.llen(queue_key(queue))), **inspected}


def enqueued_times(client: Any, ids: list[bytes]) -> list[float]:
    """Each job's enqueued_at, or its created_at when it has none (a job waiting for another: RQ stamps
    enqueued_at when it moves it to the queue; karafkad wrote both the same)."""
    with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hmget(job_key(job_id.decode()), "enqueued_at", "created_at")
        return [rq_time(enqueued or created) for enqueued, created in pipe.execute()]


def latency_run(workdir: Path, rate: int, seconds: int, *, redis_section: dict[str, Any] | None = None,
                client: Callable[[], Any] = redis) -> dict[str, Any]:
    """Produce at a fixed rate to a running daemon; latency = job enqueued_at - record CreateTime."""
    topic, group, queue = unique("lat"), unique("lat"), unique("lat")
    create_topic(topic)
    config = routes_file(workdir, group, topic, queue, threads=1, pass_meta=True, redis_section=redis_section)
    daemon = Daemon(config, workdir / f"{group}.log")
    try:
        wait_until(daemon.ready, f"karafkad (latency; logs in {workdir})")
        time.sleep(1)
        commits_before, started = daemon.metric("karafkad_offset_commits_total"), time.monotonic()
        produced_rate, values = _produce_at(topic, rate, seconds)
        commits_per_second = (daemon.metric("karafkad_offset_commits_total") - commits_before) / (
            time.monotonic() - started)
        wait_until(lambda: _committed(group, topic) >= len(values), f"karafkad (latency; logs in {workdir})", 120)
    finally:
        daemon.stop()
    jobs = client()
    ids = jobs.lrange(queue_key(queue), 0, -1)
    with jobs.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hmget(job_key(job_id.decode()), "enqueued_at", "data")
        rows = pipe.execute()
    measured = []
    for enqueued_at, data in rows:
        _, _, args, _ = json.loads(zlib.decompress(data))
        created_ms = args[1]["timestamp"]
        measured.append((created_ms, (rq_time(enqueued_at) - created_ms / 1000) * 1000))
    first = min(created for created, _ in measured)
    latencies = sorted(lat for created, lat in measured if created - first >= WARMUP_SECONDS * 1000)
    return {"rate": rate, "produced_rate": produced_rate, "messages": len(values), "jobs": len(ids),
            "warmup_seconds_excluded": WARMUP_SECONDS, "measured": len(latencies),
            "p50_ms": statistics.median(latencies), "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
            "max_ms": latencies[-1], "commits_per_second": commits_per_second}


def _produce_at(topic: str, rate: int, seconds: int) -> tuple[float, list[bytes]]:
    """Produce passing messages at `rate` a second for `seconds`, a burst every 10 ms; the rate reached."""
    from kafka import KafkaProducer

    values, _ = make_messages(rate * seconds, seed=11)
    values = [v for v in values if b'"a lot"' not in v and b'"USD"' not in v]
    producer = KafkaProducer(bootstrap_servers=KAFKA, linger_ms=0, acks=1)
    started = time.perf_counter()
    step = max(rate // 100, 1)  # a burst every 10 ms
    for i in range(0, len(values), step):
        for value in values[i:i + step]:
            producer.send(topic, value)
        pause = started + (i + step) / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    producer.flush()
    produced_rate = len(values) / (time.perf_counter() - started)
    producer.close()
    return produced_rate, values


def _committed(group: str, topic: str) -> int:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return sum(m.offset for tp, m in offsets.items() if tp.topic == topic and m.offset > 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

