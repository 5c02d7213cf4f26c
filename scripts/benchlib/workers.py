"""Messages produced -> handler finished: one karafkad daemon feeding `karafkad worker` setups (issue 12).

The daemon enqueues tens of thousands of jobs a second; a forking RQ worker runs a few hundred. This
row shows what a deployment gets end to end with each worker setup, next to the daemon's own rate in
the same run. The handler returns at once, so the figure is RQ's machinery (dequeue, fork or not,
result and registries), not a handler's work.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any

from benchlib.cpu import consume_backlog, cpu_seconds, wait_until
from benchlib.daemons import BIN, start_daemons
from benchlib.data import (
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
from karafkad.store.keys import job_key, mark_key


def setups(cores: int) -> list[tuple[str, str, int, bool]]:
    """(key, title, processes, fork) of each worker setup measured."""
    return [
        ("worker_fork", "1 worker (forks per job, RQ's default)", 1, True),
        ("worker_pool", f"pool of {cores} (--processes {cores})", cores, True),
        ("worker_no_fork", "1 worker, --no-fork", 1, False),
        ("worker_pool_no_fork", f"pool of {cores}, --no-fork", cores, False),
    ]


class Workers:
    """One `karafkad worker` process (a single worker, or a pool's main process), with a log file."""

    def __init__(self, config: Path, queue: str, processes: int, fork: bool, log: Path) -> None:
        args = [str(BIN / "karafkad"), "worker", "-c", str(config), "--log-level", "warning"]
        if processes > 1:
            args += ["--processes", str(processes)]
        if not fork:
            args.append("--no-fork")
        self.queue, self.processes = queue, processes
        self.client = redis()
        self.log = open(log, "ab")  # noqa: SIM115  (closed in stop)
        # Not --burst: the workers wait on an empty queue before the daemon continues, as they would in
        # production, so neither their start-up nor an empty-queue exit is in the figure.
        self.proc = subprocess.Popen([*args, queue], stdout=self.log, stderr=subprocess.STDOUT)

    def listening(self) -> bool:
        """Every worker of the setup has registered with RQ (it then waits on the queue)."""
        from rq import Queue, Worker

        if self.proc.poll() is not None:
            raise SystemExit(f"karafkad worker exited with {self.proc.returncode}; see {self.log.name}")
        client = self.client
        return Worker.count(connection=client, queue=Queue(self.queue, connection=client)) >= self.processes

    def stop(self) -> int:
        """SIGTERM (a warm shutdown: RQ lets a job in hand finish) and the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self.log.close()
        return code


def end_to_end_run(count: int, workdir: Path, processes: int, fork: bool, *, keys: int = 0,
                   route: dict[str, Any] | None = None) -> dict[str, Any]:
    """A daemon and a worker setup on a fresh topic and queue; the topic is filled while the daemon is
    stopped (benchlib.cpu.consume_backlog) and the workers wait, and the run ends when every job has
    finished. Rates come from the job hashes: enqueued_at (karafkad; a job that waited for another, from
    its created_at, the same stamp), started_at and ended_at (RQ).

    `keys`: the messages carry keys drawn from this many (data.make_keys); `route` adds options to the
    route (`ordering`, `batch`). The daemon's CPU per message is its own from joined to the moment every
    partition's dedupe mark reached the partition's end (everything written, read with one MGET a check);
    Redis's commands and CPU are the whole system's (karafkad's and the workers') from joined to the last
    job finished, less this function's own checks."""
    from rq import Queue

    topic, group, queue = unique("e2e"), unique("e2e"), unique("e2e")
    create_topic(topic)
    values, passing = make_messages(count)
    message_keys = make_keys(count, keys) if keys else None
    batch = "batch" in (route or {})
    config = routes_file(workdir, group, topic, queue, threads=1, route_options=route)
    client = redis()
    registries = Queue(queue, connection=client)
    finished_key, failed_key = registries.finished_job_registry.key, registries.failed_job_registry.key
    marks = [mark_key(group, topic, partition) for partition in range(PARTITIONS)]
    daemon_cpu: dict[str, float] = {}
    own_calls = 0

    def all_run() -> bool:
        nonlocal own_calls
        if "written" not in daemon_cpu:
            own_calls += 1
            if sum(int(mark) + 1 for mark in client.mget(marks) if mark is not None) >= count:
                daemon_cpu["written"] = cpu_seconds(daemon.pid)
                daemon_cpu["written_at"] = time.monotonic()
        own_calls += 2
        done = client.zcard(finished_key) + client.zcard(failed_key)
        # A batch route's job count is known once everything is written: the daemon's own count of its jobs
        if done >= (daemon.metric("karafkad_jobs_enqueued_total") if batch and "written" in daemon_cpu else passing):
            return True
        time.sleep(0.1)
        return False

    def fill_stopped() -> None:
        fill(topic, values, workdir, message_keys)
        daemon_cpu["joined"] = cpu_seconds(daemon.pid)  # stopped until consume_backlog continues it
        daemon_cpu["joined_at"] = time.monotonic()

    workers = Workers(config, queue, processes, fork, workdir / f"{group}-workers.log")
    try:
        wait_until(workers.listening, f"karafkad worker (log {workers.log.name})")
        daemon = start_daemons(config, 1, workdir, group)[0]
        calls_before = redis_calls(client)
        try:
            backlog = consume_backlog([daemon.pid], count, fill_stopped, all_run, f"end to end (logs in {workdir})")
            calls = redis_calls(client) - calls_before - own_calls - 1  # the INFO before is counted too
        finally:
            daemon_code = daemon.stop()
    finally:
        workers_code = workers.stop()
    ids = [job_id.decode() for job_id in client.zrange(finished_key, 0, -1)]
    with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hmget(job_key(job_id), "created_at", "started_at", "ended_at", "dependency_id")
        rows = pipe.execute()
    # created_at: karafkad's stamp (its enqueued_at, for a job it queued); RQ stamps a waiting job's enqueued_at
    # when the job it waited for has finished
    stamps = [[rq_time(created), rq_time(started), rq_time(ended)] for created, started, ended, _ in rows]
    first_enqueued, last_enqueued = min(s[0] for s in stamps), max(s[0] for s in stamps)
    first_started, last_ended = min(s[1] for s in stamps), max(s[2] for s in stamps)
    jobs = len(ids)
    written = daemon_cpu.get("written", backlog.cpu_seconds + daemon_cpu["joined"]) - daemon_cpu["joined"]
    handled = _messages_in(client, ids) if batch else None
    return {"processes": processes, "fork": fork, "messages": count, "jobs_expected": passing,
            "jobs": jobs, "failed": client.zcard(failed_key), "exit_codes": [daemon_code, workers_code],
            "keys": keys, "route": route or {},
            # first job enqueued -> last job finished: what the deployment delivers
            "seconds": last_ended - first_enqueued, "rate": jobs / (last_ended - first_enqueued),
            # the workers alone: first job started -> last finished (a backlog: the daemon is faster)
            "workers_rate": jobs / (last_ended - first_started),
            # the daemon in the same run (sharing the cores with the workers): first -> last enqueued
            "daemon_rate": jobs / (last_enqueued - first_enqueued) if last_enqueued > first_enqueued else 0.0,
            # its CPU per message, joined -> everything written (as row 4's, but beside the workers)
            "daemon_cpu_us_per_message": written / count * 1e6,
            "daemon_written_seconds": daemon_cpu.get("written_at", 0.0) - daemon_cpu["joined_at"],
            # what Redis does per job, enqueued by karafkad and run by the workers (sizing Redis: scaling.md)
            "redis_us_per_job": backlog.redis_seconds / jobs * 1e6 if jobs else 0.0,
            "redis_commands_per_job": calls / jobs if jobs else 0.0,
            # an ordered route's waiting jobs: each started only after the job it waited for ended
            "waited": sum(1 for row in rows if row[3]), **_hand_offs(ids, rows),
            **({} if handled is None else {
                "messages_handled": len(handled), "messages_twice": len(handled) - len(set(handled)),
                "message_rate": len(handled) / (last_ended - first_enqueued),
                "redis_commands_per_message": calls / len(handled) if handled else 0.0})}


def _hand_offs(ids: list[str], rows: list[list[bytes | None]]) -> dict[str, Any]:
    """For the jobs that waited for another (their dependency_id): how many started before it had ended (out of
    order), and the time from its end to their start (the hand-off: RQ's release, the queue, a worker's dequeue)."""
    ended = {job_id: row[2] for job_id, row in zip(ids, rows, strict=True)}
    late, gaps = 0, []
    for _, started, _, parent in rows:
        if parent is None:
            continue
        parent_ended = ended.get(parent.decode())
        if parent_ended is None or started is None:
            late += 1
            continue
        gaps.append(rq_time(started) - rq_time(parent_ended))
        late += gaps[-1] < 0
    gaps.sort()
    return {"order_violations": late, "hand_off_ms_p50": gaps[len(gaps) // 2] * 1000 if gaps else 0.0,
            "hand_off_ms_p99": gaps[int(len(gaps) * 0.99)] * 1000 if gaps else 0.0}


def _messages_in(client: Any, ids: list[str]) -> list[int]:
    """The orders' ids in a batch route's jobs (a job's first argument is the list of its messages' params)."""
    with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(job_key(job_id), "data")
        datas = pipe.execute()
    return [params["id"] for data in datas for params in json.loads(zlib.decompress(data))[2][0]]
