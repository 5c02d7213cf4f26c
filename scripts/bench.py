"""Side-by-side throughput benchmark (run through scripts/bench, which starts the services).

All figures come from one run on the same machine, services and data:

  1. raw kafka-python: poll and discard (the consume ceiling)
  2. RQ's best path: Queue.enqueue_many in one pipeline per 500 jobs (the enqueue reference)
  3. the obvious loop: kafka-python -> json.loads -> a jsonschema validator built once -> a Python
     filter -> Queue.enqueue per message -> commit per batch
  4. karafkad end to end, one process (1 and 4 consumer threads) and one process per core; the daemons
     join an empty topic first and are stopped (SIGSTOP) while it is filled, then continued together,
     so they consume a backlog as the raw baseline does (joining, rebalancing and a competing producer
     are not in the figure); the rate is messages over the span from the first to the last job enqueued

plus produce-to-enqueued latency at a fixed rate, peak RSS and CPU seconds per 100k messages.
Outcomes are checked too: the right number of jobs, none twice. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
KAFKA = f"127.0.0.1:{os.environ.get('KARAFKAD_KAFKA_PORT', '29092')}"
REDIS_URL = f"redis://127.0.0.1:{os.environ.get('KARAFKAD_REDIS_PORT', '26379')}/0"
PARTITIONS = 8
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "type", "customer", "items", "total", "currency"],
    "properties": {
        "id": {"type": "integer"},
        "type": {"type": "string"},
        "customer": {"type": "object", "required": ["id", "email"],
                     "properties": {"id": {"type": "string"}, "email": {"type": "string"},
                                    "country": {"type": "string", "minLength": 2, "maxLength": 2}}},
        "items": {"type": "array", "items": {"type": "object", "required": ["sku", "qty", "price"],
                                             "properties": {"sku": {"type": "string"},
                                                            "qty": {"type": "integer", "minimum": 1},
                                                            "price": {"type": "number"}}}},
        "total": {"type": "number"},
        "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
        "created_at": {"type": "string"},
        "test": {"type": "boolean"},
    },
}
FILTER = 'params.total > 10 and params.currency == "EUR"'
HANDLERS = '''
def handle(params):
    return None


def handle_meta(params, meta):
    return None
'''


def python_filter(params: dict[str, Any]) -> bool:
    """FILTER, as the obvious loop would write it."""
    return bool(params.get("total", 0) > 10 and params.get("currency") == "EUR")


# --- data ---------------------------------------------------------------------


def make_messages(count: int, seed: int = 7) -> tuple[list[bytes], int]:
    """~300-byte orders: 80 % pass, 10 % are filtered out, 10 % fail the schema. Returns (values, passing)."""
    rng = random.Random(seed)
    values, passing = [], 0
    for n in range(count):
        kind = rng.random()
        order = {
            "id": n,
            "type": "order.created",
            "customer": {"id": f"c-{rng.randrange(10**6)}", "email": f"user{rng.randrange(10**6)}@example.com",
                         "country": rng.choice(["DE", "FR", "NL", "IT"])},
            "items": [{"sku": f"SKU-{rng.randrange(1000)}", "qty": rng.randrange(1, 5),
                       "price": round(rng.uniform(1, 99), 2)} for _ in range(2)],
            "total": round(rng.uniform(11, 500), 2),
            "currency": "EUR",
            "created_at": "2026-11-24T17:00:00Z",
            "test": False,
        }
        if kind < 0.10:
            order["currency"] = "USD"  # filtered out
        elif kind < 0.20:
            order["total"] = "a lot"  # fails the schema
        else:
            passing += 1
        values.append(json.dumps(order).encode())
    return values, passing


def create_topic(name: str) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    try:
        admin.create_topics([NewTopic(name, PARTITIONS, 1)])
    finally:
        admin.close()
    time.sleep(1)


def fill(topic: str, values: list[bytes], workdir: Path) -> None:
    path = workdir / f"{topic}.jsonl"
    path.write_bytes(b"\n".join(values) + b"\n")
    # Batching as a typical producer does it (the Java client's defaults: 16 KiB batches, 5 ms linger).
    subprocess.run(["kcat", "-P", "-b", KAFKA, "-t", topic, "-X", "linger.ms=5", "-X", "batch.size=16384",
                    "-l", str(path)], check=True, timeout=600)


def consumer_options() -> dict[str, Any]:
    """The settings karafkad's own consumers use (see consumer.make_consumer), so the baselines get
    the same tuned client: in particular fetch_max_wait_ms 100, without which kafka-python 3.0
    stalls on half-empty fetches (~30k msgs/s here instead of ~90k)."""
    from karafkad import defaults

    return {"bootstrap_servers": KAFKA, "enable_auto_commit": False, "auto_offset_reset": "earliest",
            "max_poll_records": defaults.MAX_POLL_RECORDS, "metrics_enabled": False,
            "allow_auto_create_topics": False, "fetch_max_wait_ms": defaults.FETCH_MAX_WAIT_MS}


def redis() -> Any:
    import redis as redis_module

    return redis_module.Redis.from_url(REDIS_URL)


# --- the baselines --------------------------------------------------------------


def raw_consume(topic: str, count: int, tuned: bool = True) -> dict[str, float]:
    """Poll and discard. `tuned`: with karafkad's consumer settings; otherwise with kafka-python's
    defaults (only the group, offsets and auto-commit set), as a user's first consumer would be."""
    from kafka import KafkaConsumer

    options = consumer_options() if tuned else {
        "bootstrap_servers": KAFKA, "enable_auto_commit": False, "auto_offset_reset": "earliest"}
    consumer = KafkaConsumer(topic, group_id=f"raw-{uuid.uuid4().hex[:6]}", **options)
    seen, first = 0, 0.0
    while seen < count:
        for records in consumer.poll(timeout_ms=1000).values():
            if not first:
                first = time.perf_counter()
            seen += len(records)
    seconds = time.perf_counter() - first
    consumer.close()
    return {"messages": seen, "seconds": seconds, "rate": seen / seconds}


def rq_enqueue_many(values: list[bytes], limit: int) -> dict[str, float]:
    from rq import Queue
    from rq.serializers import JSONSerializer

    client = redis()
    queue = Queue(f"ref-{uuid.uuid4().hex[:6]}", connection=client, serializer=JSONSerializer)
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


def obvious_loop(topic: str, limit: int) -> dict[str, float]:
    import jsonschema
    from kafka import KafkaConsumer
    from rq import Queue
    from rq.serializers import JSONSerializer

    consumer = KafkaConsumer(topic, group_id=f"obvious-{uuid.uuid4().hex[:6]}", **consumer_options())
    validator = jsonschema.Draft202012Validator(SCHEMA)
    queue = Queue(f"obvious-{uuid.uuid4().hex[:6]}", connection=redis(), serializer=JSONSerializer)
    seen, jobs, first = 0, 0, 0.0
    while seen < limit:
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
    consumer.close()
    return {"messages": seen, "jobs": jobs, "seconds": seconds, "rate": seen / seconds}


def redis_cost(values: list[bytes], limit: int) -> dict[str, float]:
    """Redis's own CPU per job karafkad's enqueuer writes (500 per call), with the append-only file on
    (as the guarantees need) and off: where a single karafkad process's time goes is mostly here."""
    from karafkad.config.settings import JobOptions
    from karafkad.pipeline.outcomes import PendingJob
    from karafkad.routes.jobs import build_template
    from karafkad.runtime.enqueuer import Enqueuer, PartitionWrite

    client = redis()
    template = build_template("redis-cost", "bench_handlers.handle", JobOptions())
    jobs = [PendingJob(f"kd-cost-{n}", template, [json.loads(v)], "bench", n, "cost")
            for n, v in enumerate(values[:limit])]
    for job in jobs:
        job.data = template.encode(job.args)

    def redis_cpu() -> float:
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def per_job() -> float:
        client.flushall()
        enqueuer, started = Enqueuer(client, 86_400), redis_cpu()
        for first in range(0, len(jobs), 500):
            batch = jobs[first:first + 500]
            enqueuer.write([PartitionWrite("cost", "cost", 0, batch[-1].offset, batch, -1)])
        return (redis_cpu() - started) / len(jobs) * 1e6

    with_aof = per_job()
    client.config_set("appendonly", "no")
    try:
        without_aof = per_job()
    finally:
        client.config_set("appendonly", "yes")
    return {"jobs": len(jobs), "us_per_job_appendonly": with_aof, "us_per_job_no_appendonly": without_aof,
            "rate": 1e6 / with_aof}


# --- karafkad -------------------------------------------------------------------


def routes_file(workdir: Path, group: str, topic: str, queue: str, threads: int, pass_meta: bool = False) -> Path:
    plugins = workdir / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "bench_handlers.py").write_text(HANDLERS)
    path = workdir / f"routes-{group}.yaml"
    path.write_text(json.dumps({
        "kafka": {"bootstrap_servers": KAFKA, "client_id": "karafkad-bench"},
        "redis": {"url": REDIS_URL},
        "plugins": {"paths": [str(plugins)]},
        "groups": {group: {"threads": threads, "session_timeout_ms": 45000, "routes": [{
            "topic": topic, "handler": "bench_handlers.handle_meta" if pass_meta else "bench_handlers.handle",
            "queue": queue, "schema": SCHEMA, "filter": FILTER, "on_error": "skip"}]}},
    }))
    return path


class Daemon:
    def __init__(self, config: Path, log: Path) -> None:
        self.port = _free_port()
        self.log = open(log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([str(BIN / "karafkad"), "start", "-c", str(config), "--http-port",
                                      str(self.port), "--log-format", "json", "--log-level", "warning"],
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def ready(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self.log.close()
        return code


def _service_cpu(name: str) -> float:
    """CPU seconds used so far by the broker or Redis that scripts/bench started (from its pid file)."""
    state = Path(os.environ.get("KARAFKAD_STATE_DIR", ROOT / ".run" / "bench"))
    try:
        pid = int((state / "pids" / f"{name}.pid").read_text())
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (all processes, the kernel, interrupts), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:7]) - idle) / os.sysconf("SC_CLK_TCK")  # not steal: time another guest had


def _committed(group: str, topic: str) -> int:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return sum(m.offset for tp, m in offsets.items() if tp.topic == topic and m.offset > 0)


def _enqueued_times(client: Any, queue: str) -> list[float]:
    ids = client.lrange(f"rq:queue:{queue}", 0, -1)
    with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(b"rq:job:" + job_id, "enqueued_at")
        stamps = pipe.execute()
    return [datetime.strptime(s.decode(), "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() for s in stamps]


def karafkad_run(count: int, passing: int, workdir: Path, processes: int, threads: int) -> dict[str, Any]:
    """Daemons join a fresh, empty topic; once every partition is assigned they are stopped (SIGSTOP),
    the topic is filled, and they are continued (SIGCONT) together.

    So the rate (messages over the span from the first to the last enqueue) measures consuming a
    backlog, as the raw baseline does: not the group's join, not the rebalance a second member
    causes, and not a producer competing for the same two cores. The session timeout is long enough
    that the stopped members stay in their group.
    """
    topic, group, queue = f"kd-{uuid.uuid4().hex[:6]}", f"bench-{uuid.uuid4().hex[:6]}", f"kd-{uuid.uuid4().hex[:6]}"
    create_topic(topic)
    values, _ = make_messages(count)
    config = routes_file(workdir, group, topic, queue, threads)
    daemons = [Daemon(config, workdir / f"{group}-{i}.log") for i in range(processes)]
    deadline = time.monotonic() + 90
    while not all(d.ready() for d in daemons) or _assigned(daemons) < PARTITIONS:
        if time.monotonic() > deadline:
            raise SystemExit(f"karafkad did not become ready; see {workdir}")
        time.sleep(0.1)
    time.sleep(1)
    for daemon in daemons:
        daemon.proc.send_signal(signal.SIGSTOP)
    fill(topic, values, workdir)
    time.sleep(1)  # the broker's own work for the fill (flushes) settles before CPU is counted
    cpu_start = sum(d.cpu_seconds() for d in daemons)
    services_start = {name: _service_cpu(name) for name in ("kafka", "redis")}
    wall_start, machine_start = time.monotonic(), _machine_busy_seconds()
    for daemon in daemons:
        daemon.proc.send_signal(signal.SIGCONT)
    # Watched through one cheap LLEN a tenth of a second (a new Kafka admin client per check would cost
    # the machine a good share of a core while the daemons run); the commits are checked afterwards.
    watcher, deadline, checks = redis(), time.monotonic() + 900, 0
    while watcher.llen(f"rq:queue:{queue}") < passing:
        checks += 1
        if checks % 100 == 0 and _committed(group, topic) >= count:
            break  # all committed with fewer jobs than expected: the outcome check below reports it
        if time.monotonic() > deadline:
            raise SystemExit(f"karafkad did not enqueue everything; see {workdir}")
        time.sleep(0.1)
    cpu = sum(d.cpu_seconds() for d in daemons) - cpu_start
    wall = time.monotonic() - wall_start
    machine_busy = _machine_busy_seconds() - machine_start
    while _committed(group, topic) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"karafkad did not commit everything; see {workdir}")
        time.sleep(0.5)
    breakdown = {"karafkad": cpu, "broker": _service_cpu("kafka") - services_start["kafka"],
                 "redis": _service_cpu("redis") - services_start["redis"]}
    rss = max(d.peak_rss_mb() for d in daemons)
    codes = [d.stop() for d in daemons]
    client = redis()
    ids = client.lrange(f"rq:queue:{queue}", 0, -1)
    times = _enqueued_times(client, queue)
    span = max(times) - min(times)
    return {"processes": processes, "threads": threads, "messages": count, "jobs": len(ids),
            "jobs_expected": passing, "duplicates": len(ids) - len(set(ids)), "seconds": span,
            "rate": count / span if span else 0.0, "cpu_seconds_per_100k": cpu / count * 100_000,
            "peak_rss_mb": rss, "exit_codes": codes, "wall_seconds": wall,
            "cpu_seconds_by_process": breakdown, "machine_cores_busy": machine_busy / wall if wall else 0.0,
            "cores_busy": sum(breakdown.values()) / wall if wall else 0.0}


def _assigned(daemons: list[Daemon]) -> int:
    """Partitions assigned across the daemons, from their /metrics."""
    import urllib.request

    total = 0
    for daemon in daemons:
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon.port}/metrics", timeout=2) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("karafkad_assigned_partitions{"):
                    total += int(float(line.rsplit(" ", 1)[1]))
    return total


WARMUP_SECONDS = 2


def latency_run(workdir: Path, rate: int, seconds: int) -> dict[str, Any]:
    """Produce at a fixed rate to a running daemon; latency = job enqueued_at - record CreateTime."""
    from kafka import KafkaProducer

    topic, group, queue = f"lat-{uuid.uuid4().hex[:6]}", f"lat-{uuid.uuid4().hex[:6]}", f"lat-{uuid.uuid4().hex[:6]}"
    create_topic(topic)
    daemon = Daemon(routes_file(workdir, group, topic, queue, threads=1, pass_meta=True), workdir / "latency.log")
    while not daemon.ready():
        time.sleep(0.05)
    time.sleep(1)
    values, _ = make_messages(rate * seconds, seed=11)
    values = [v for v in values if b'"a lot"' not in v and b'"USD"' not in v]
    producer = KafkaProducer(bootstrap_servers=KAFKA, linger_ms=0, acks=1)
    started = time.perf_counter()
    step = max(rate // 100, 1)  # a burst every 10 ms
    for i in range(0, len(values), step):
        for value in values[i:i + step]:
            producer.send(topic, value)
        target = started + (i + step) / rate
        pause = target - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    producer.flush()
    produced_rate = len(values) / (time.perf_counter() - started)
    while _committed(group, topic) < len(values):
        time.sleep(0.2)
    daemon.stop()
    client = redis()
    ids = client.lrange(f"rq:queue:{queue}", 0, -1)
    latencies = []
    with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hmget(b"rq:job:" + job_id, "enqueued_at", "data")
        rows = pipe.execute()
    measured = []
    for enqueued_at, data in rows:
        _, _, args, _ = json.loads(zlib.decompress(data))
        created_ms = args[1]["timestamp"]
        enqueued = datetime.strptime(enqueued_at.decode(), "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
        measured.append((created_ms, (enqueued - created_ms / 1000) * 1000))
    # The first WARMUP seconds are left out: the first fetches, the script load and the first
    # batches of a fresh process are not the steady state this figure is about.
    first = min(created for created, _ in measured)
    latencies = sorted(lat for created, lat in measured if created - first >= WARMUP_SECONDS * 1000)
    return {"rate": rate, "produced_rate": produced_rate, "messages": len(values), "jobs": len(ids),
            "warmup_seconds_excluded": WARMUP_SECONDS, "measured": len(latencies),
            "p50_ms": statistics.median(latencies), "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
            "max_ms": latencies[-1]}


# --- report --------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000, help="messages in the topic (default 100000)")
    parser.add_argument("--obvious-limit", type=int, default=20_000,
                        help="messages the (slow) obvious loop consumes (default 20000)")
    parser.add_argument("--latency-rate", type=int, default=2000)
    parser.add_argument("--latency-seconds", type=int, default=20)
    parser.add_argument("--output", type=Path, default=ROOT / "bench-results" / "latest.json")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="karafkad-bench-"))
    values, passing = make_messages(args.messages)
    topic = f"bench-{uuid.uuid4().hex[:6]}"
    print(f"filling {topic} ({PARTITIONS} partitions) with {len(values)} messages "
          f"(~{sum(map(len, values)) // len(values)} bytes; {passing} pass schema and filter)", flush=True)
    create_topic(topic)
    fill(topic, values, workdir)
    sys.path.insert(0, str(workdir / "plugins"))

    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                               "messages": len(values), "passing": passing}
    count, cores = len(values), os.cpu_count() or 1
    steps: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
        ("raw kafka-python (poll, discard)", "raw", lambda: raw_consume(topic, count)),
        ("raw kafka-python, its default settings", "raw_defaults", lambda: raw_consume(topic, count, tuned=False)),
        ("RQ enqueue_many, 500 per pipeline", "enqueue_many", lambda: rq_enqueue_many(values, min(50_000, count))),
        ("obvious loop (enqueue per message)", "obvious", lambda: obvious_loop(topic, args.obvious_limit)),
        ("karafkad, 1 process, 1 thread", "karafkad_1p1t", lambda: karafkad_run(count, passing, workdir, 1, 1)),
        ("karafkad, 1 process, 4 threads", "karafkad_1p4t", lambda: karafkad_run(count, passing, workdir, 1, 4)),
        (f"karafkad, {cores} processes (1 per core)", "karafkad_per_core",
         lambda: karafkad_run(count, passing, workdir, cores, 1)),
    ]
    for title, key, step in steps:
        redis().flushall()  # every step starts from an empty Redis (no AOF rewrite of the last one's jobs)
        print(f"  {title} ...", end=" ", flush=True)
        results[key] = step()
        print(f"{results[key]['rate']:,.0f} msgs/s", flush=True)
    redis().flushall()
    print("  Redis CPU per job karafkad writes ...", end=" ", flush=True)
    results["redis_cost"] = redis_cost(values, min(40_000, count))
    print(f"{results['redis_cost']['us_per_job_appendonly']:.1f} µs", flush=True)
    redis().flushall()
    print(f"  latency at {args.latency_rate} msgs/s ...", end=" ", flush=True)
    results["latency"] = latency_run(workdir, args.latency_rate, args.latency_seconds)
    print("done", flush=True)

    _report(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {args.output} (logs in {workdir})")
    problems = [k for k in ("karafkad_1p1t", "karafkad_1p4t", "karafkad_per_core")
                if results[k]["jobs"] != passing or results[k]["duplicates"]]
    if problems:
        print(f"OUTCOME CHECK FAILED for {', '.join(problems)}: wrong job count or duplicates")
        return 1
    return 0


def _report(r: dict[str, Any]) -> None:
    one = r["karafkad_1p1t"]["rate"]
    best_one = max(one, r["karafkad_1p4t"]["rate"])
    per_core = r["karafkad_per_core"]["rate"]
    rows = [
        ("raw kafka-python (poll, discard)", r["raw"]["rate"]),
        ("  the same with kafka-python defaults", r["raw_defaults"]["rate"]),
        ("RQ enqueue_many (enqueue only)", r["enqueue_many"]["rate"]),
        ("obvious loop", r["obvious"]["rate"]),
        ("karafkad, 1 process, 1 thread", one),
        ("karafkad, 1 process, 4 threads", r["karafkad_1p4t"]["rate"]),
        (f"karafkad, {r['karafkad_per_core']['processes']} processes", per_core),
    ]
    print(f"\n{'':<38} {'msgs/s':>12}")
    for name, rate in rows:
        print(f"{name:<38} {rate:>12,.0f}")
    print(f"\nratios (best single process = {best_one:,.0f} msgs/s)")
    targets: list[tuple[str, float, float | None]] = [
        ("karafkad / obvious loop", best_one / r["obvious"]["rate"], 8.0),
        ("karafkad / RQ enqueue_many", best_one / r["enqueue_many"]["rate"], 3.0),
        ("karafkad / raw kafka-python", best_one / r["raw"]["rate"], 0.6),
        ("  against raw with its defaults", best_one / r["raw_defaults"]["rate"], None),
        ("per-core processes / one process", per_core / best_one, 1.6),
    ]
    for name, value, target in targets:
        if target is None:
            print(f"  {name:<34} {value:6.2f}x   (context only: the target is against the tuned client)")
            continue
        verdict = "meets" if value >= target else "BELOW"
        print(f"  {name:<34} {value:6.2f}x   (target >= {target}x: {verdict})")
    lat = r["latency"]
    print(f"\nlatency at {lat['produced_rate']:,.0f} msgs/s produced (first {lat['warmup_seconds_excluded']} s "
          f"left out): p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms "
          "(target p99 <= 25 ms)")
    cost = r["redis_cost"]
    print(f"Redis CPU per job written: {cost['us_per_job_appendonly']:.1f} µs with appendonly yes, "
          f"{cost['us_per_job_no_appendonly']:.1f} µs without (Redis alone could take "
          f"{cost['rate']:,.0f} jobs/s on a core of its own)")
    print(f"peak RSS, 1 process with 4 threads: {r['karafkad_1p4t']['peak_rss_mb']:.0f} MB (target <= 120 MB)")
    for key in ("karafkad_1p1t", "karafkad_1p4t", "karafkad_per_core"):
        run = r[key]
        shares = ", ".join(f"{name} {cpu:.1f}" for name, cpu in run["cpu_seconds_by_process"].items())
        print(f"{run['processes']}p/{run['threads']}t: CPU seconds per 100k messages "
              f"{run['cpu_seconds_per_100k']:.1f}; jobs {run['jobs']} of {run['jobs_expected']} expected, "
              f"{run['duplicates']} duplicated")
        print(f"      CPU seconds while it ran ({run['wall_seconds']:.1f} s): {shares} "
              f"= {run['cores_busy']:.2f} of {r['machine']['cpus']} cores; whole machine "
              f"{run['machine_cores_busy']:.2f} cores busy")


if __name__ == "__main__":
    raise SystemExit(main())
