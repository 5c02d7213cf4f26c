"""Messages produced -> handler finished: one karafkad daemon feeding `karafkad worker` setups (issue 12).

The daemon enqueues tens of thousands of jobs a second; a forking RQ worker runs a few hundred. This
row shows what a deployment gets end to end with each worker setup, next to the daemon's own rate in
the same run. The handler returns at once, so the figure is RQ's machinery (dequeue, fork or not,
result and registries), not a handler's work.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from benchlib.cpu import consume_backlog, wait_until
from benchlib.daemons import BIN, start_daemons
from benchlib.data import create_topic, fill, make_messages, redis, redis_calls, routes_file, rq_time, unique
from karafkad.store.keys import job_key


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


def end_to_end_run(count: int, workdir: Path, processes: int, fork: bool) -> dict[str, Any]:
    """A daemon and a worker setup on a fresh topic and queue; the topic is filled while the daemon is
    stopped (benchlib.cpu.consume_backlog) and the workers wait, and the run ends when every job has
    finished. Rates come from the job hashes: enqueued_at (karafkad), started_at and ended_at (RQ)."""
    from rq import Queue

    topic, group, queue = unique("e2e"), unique("e2e"), unique("e2e")
    create_topic(topic)
    values, passing = make_messages(count)
    config = routes_file(workdir, group, topic, queue, threads=1)
    client = redis()
    registries = Queue(queue, connection=client)
    finished_key, failed_key = registries.finished_job_registry.key, registries.failed_job_registry.key

    def all_run() -> bool:
        if client.zcard(finished_key) + client.zcard(failed_key) >= passing:
            return True
        time.sleep(0.1)
        return False

    workers = Workers(config, queue, processes, fork, workdir / f"{group}-workers.log")
    try:
        wait_until(workers.listening, f"karafkad worker (log {workers.log.name})")
        daemon = start_daemons(config, 1, workdir, group)[0]
        calls_before = redis_calls(client)
        try:
            backlog = consume_backlog([daemon.pid], count, lambda: fill(topic, values, workdir), all_run,
                                      f"end to end (logs in {workdir})")
            calls = redis_calls(client) - calls_before
        finally:
            daemon_code = daemon.stop()
    finally:
        workers_code = workers.stop()
    ids = [job_id.decode() for job_id in client.zrange(finished_key, 0, -1)]
    with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hmget(job_key(job_id), "enqueued_at", "started_at", "ended_at")
        stamps = [[rq_time(s) for s in row] for row in pipe.execute()]
    first_enqueued, last_enqueued = min(s[0] for s in stamps), max(s[0] for s in stamps)
    first_started, last_ended = min(s[1] for s in stamps), max(s[2] for s in stamps)
    jobs = len(ids)
    return {"processes": processes, "fork": fork, "messages": count, "jobs_expected": passing,
            "jobs": jobs, "failed": client.zcard(failed_key), "exit_codes": [daemon_code, workers_code],
            # first job enqueued -> last job finished: what the deployment delivers
            "seconds": last_ended - first_enqueued, "rate": jobs / (last_ended - first_enqueued),
            # the workers alone: first job started -> last finished (a backlog: the daemon is faster)
            "workers_rate": jobs / (last_ended - first_started),
            # the daemon in the same run (sharing the cores with the workers): first -> last enqueued
            "daemon_rate": jobs / (last_enqueued - first_enqueued) if last_enqueued > first_enqueued else 0.0,
            # what Redis does per job, enqueued by karafkad and run by the workers (sizing Redis: scaling.md)
            "redis_us_per_job": backlog.redis_seconds / jobs * 1e6 if jobs else 0.0,
            "redis_commands_per_job": calls / jobs if jobs else 0.0}
