"""`karafkad worker`: stock RQ workers (one, or a pool), with the plugin folders importable and the right serializer.

A worker reads one Redis with one serializer. When the chosen queues live on
several Redis servers (groups with their own `redis:`) or mix serializers,
`karafkad worker` starts one worker process per (Redis, serializer) and
stays in front of them: it passes SIGTERM/SIGINT on, and when one stops with
an error it stops the others and exits with that status (so systemd restarts
the lot).

The handlers are imported here only to check them, then forgotten: each
job's work horse imports its handler afresh, so an edited handler file runs
from the next job on (a --no-fork worker keeps what it imported: restart it).

RQ workers started any other way work too: put the plugin folders on
PYTHONPATH and pass `--serializer` (and `--with-scheduler` for retries with
intervals).

Our workers are RQ's with two changes. How they leave their command channel
(see `leave_command_channel`): RQ's order could keep a worker 60 s after its
last job ("done, quitting"), the wait a stock `rq worker` has too. And, with
tracing on (the OTEL_* variables, docs/tracing.md), a job whose meta carries
a trace context runs inside a span continuing it (tracing/jobs.py), sent
before a forked work horse exits.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, ClassVar

from rq import Queue, SimpleWorker, Worker
from rq.exceptions import StopRequested
from rq.executions import Execution
from rq.job import Job
from rq.serializers import JSONSerializer, PickleSerializer
from rq.worker.base import BaseWorker
from rq.worker_pool import WorkerPool

from karafkad import defaults
from karafkad.cli.output import print_problems
from karafkad.clients.redis.connection import connect, describe
from karafkad.config.settings import RedisSettings
from karafkad.errors import ConfigError
from karafkad.routes.table import RouteTable, load_routes
from karafkad.store.ready import ReadyReleasingQueue
from karafkad.tracing.switch import start_tracing

if TYPE_CHECKING:
    from karafkad.tracing.sdk import Tracing


def run_worker(config: Path, queues: Sequence[str], *, burst: bool = False, name: str | None = None,
               log_level: str = "info", processes: int = 1, fork: bool = True) -> int:
    """`karafkad worker`: the exit status."""
    if name is not None and processes > 1:
        print("karafkad: --name names one worker; a pool of --processes names its own", file=sys.stderr)
        return defaults.EXIT_CONFIG
    try:
        table = load_routes(config)
    except ConfigError as exc:
        print_problems(exc)
        return defaults.EXIT_CONFIG
    chosen = list(queues) or list(table.queues())
    unknown = [q for q in chosen if q not in table.queues()]
    if unknown:
        # Still run them (a queue fed by another program is fine), on the top-level Redis.
        print(f"karafkad: note: no route of {config} feeds {', '.join(unknown)}; "
              f"reading {'it' if len(unknown) == 1 else 'them'} from {table.config.redis.describe()}",
              file=sys.stderr)
    shares = _shares(table, chosen)
    if len(shares) > 1:
        if name is not None:
            print("karafkad: --name names one worker, but these queues need "
                  f"{len(shares)} ({_describe_shares(shares)})", file=sys.stderr)
            return defaults.EXIT_CONFIG
        return _one_worker_each(config, shares, burst=burst, log_level=log_level, processes=processes, fork=fork)
    ((settings, serializer_name), share_queues), = shares.items()
    if settings.sentinel is not None and processes > 1:
        print("karafkad: --processes cannot follow a Sentinel failover (RQ's WorkerPool rebuilds a plain connection "
              "in its children); run several workers instead (karafkad-worker@ instances)", file=sys.stderr)
        return defaults.EXIT_CONFIG
    table.loader.activate()  # the plugin folders on sys.path, for this process and the ones it forks
    # load_routes imported the handlers to check them. Forgotten again, so that each forked work horse
    # imports them from disk, as under a stock `rq worker`: an edited handler runs from the next job on.
    # (A --no-fork worker, and each process of a --no-fork pool, imports them at its first job and keeps them.)
    table.loader.forget()
    serializer = PickleSerializer if serializer_name == "pickle" else JSONSerializer
    # SimpleWorker runs each job in the worker process itself instead of a fork per job: several
    # times the jobs per second, for handlers that are safe in a long-lived process.
    worker_class: type[ForkingWorker | InProcessWorker] = ForkingWorker if fork else InProcessWorker
    # Before the workers start: forked pool processes and work horses inherit it (the SDK restarts its export
    # thread in each).
    tracing = worker_class.tracing = start_tracing(defaults.WORKER_SERVICE_NAME)
    connection = connect(settings, blocking=True)
    try:
        if processes == 1:
            worker = worker_class(share_queues, connection=connection, serializer=serializer, name=name,
                                  queue_class=ReadyReleasingQueue)
            worker.work(burst=burst, with_scheduler=True, logging_level=log_level.upper())
        else:
            pool = WorkerPool(share_queues, connection=connection, num_workers=processes, worker_class=worker_class,
                              serializer=serializer, queue_class=ReadyReleasingQueue)
            pool.start(burst=burst, logging_level=log_level.upper())
    except StopRequested:
        # RQ's answer to a SIGTERM/SIGINT that came while the worker was already leaving (its teardown): it
        # stopped as asked, only the rest of its leaving was cut short. The exception says nothing itself.
        print("karafkad: worker stopped by a signal while it was shutting down (the rest of RQ's teardown was "
              "skipped: `rq info` may list the worker until its heartbeat runs out)", file=sys.stderr)
        return defaults.EXIT_OK
    except Exception as exc:
        # Not exit 1 (what Python gives an uncaught exception): 1 means a bad
        # routes file, which karafkad-worker@.service does not restart on.
        print(f"karafkad: worker stopped: {describe(exc, settings)}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    finally:
        if tracing is not None:
            tracing.shutdown()  # the spans of in-process jobs, within defaults.TRACE_FLUSH_SECONDS
    return defaults.EXIT_OK


def leave_command_channel(worker: BaseWorker) -> None:
    """Unsubscribe `worker` from its command channel (`rq.worker.BaseWorker.unsubscribe`), without the 60 s wait.

    RQ's order is: UNSUBSCRIBE, then `PubSubWorkerThread.stop()`, which (redis-py 8) waits for the thread to
    end. But the thread may read the UNSUBSCRIBE reply before stop() lowers its running flag: it then asks
    for the next message, finds nothing subscribed and waits for a subscription, for RQ's whole sleep_time
    of 60 s, while stop() waits for it (4 of 22 burst runs of a trial; 7 of 25 here). Lowered first, the flag
    is what the thread sees right after that reply, so it ends at once; the join is bounded all the same.
    """
    thread, pubsub = worker.pubsub_thread, worker.pubsub
    if thread is None or pubsub is None:
        return
    worker.log.info("Worker %s: unsubscribing from channel %s", worker.name, worker.pubsub_channel_name)
    # redis-py's own flag: what stop() lowers before it joins (redis-py 5 to 8 alike), lowered without the join.
    thread._running.clear()
    pubsub.unsubscribe()  # the reply wakes the thread from its read
    thread.join(timeout=defaults.WORKER_LEAVE_SECONDS)
    pubsub.close()


def perform_traced(tracing: Tracing, worker: BaseWorker, job: Job, queue: Queue,
                   perform: Callable[[], bool]) -> bool:
    """`perform` (RQ's perform_job for `job`) inside the job's span, when its meta carries a trace context."""
    with tracing.jobs.job(job.id, job.func_name or "", queue.name, worker.name, job.meta) as span:
        succeeded = perform()
        if not succeeded:
            tracing.jobs.failed(span)
    return succeeded


def record_exception(tracing: Tracing | None, exc_info: tuple[object, ...]) -> None:
    """RQ's exception handler's arguments (type, value, traceback) recorded on the job's span, if it has one."""
    if tracing is not None and len(exc_info) > 1 and isinstance(exc_info[1], BaseException):
        tracing.jobs.record(exc_info[1])


class KarafkadWorker(BaseWorker):
    """What both of karafkad's workers add to RQ's: leaving the command channel without the wait, and the
    handler's exception on the job's span.

    A mixin over RQ's BaseWorker, never over Worker: RQ's SimpleWorker is a BaseWorker, not a Worker, so
    a KarafkadWorker(Worker) would put Worker's forking execute_job before SimpleWorker's in the
    in-process worker's MRO (it forked a work horse per job: 31 jobs/s instead of 156, measured)."""

    tracing: ClassVar[Tracing | None] = None
    """The SDK, with tracing on (set by run_worker)."""

    def unsubscribe(self) -> None:
        leave_command_channel(self)

    def handle_exception(self, job: Job, *exc_info: type[BaseException] | BaseException | TracebackType | None) -> None:
        record_exception(self.tracing, exc_info)
        super().handle_exception(job, *exc_info)


class ForkingWorker(KarafkadWorker, Worker):
    """RQ's Worker (a work horse forked per job), as KarafkadWorker changes it."""

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        # In the work horse, which exits right after: its spans are sent before it does.
        tracing = self.tracing
        if tracing is None:
            return super().perform_job(job, queue, execution)
        try:
            return perform_traced(tracing, self, job, queue, lambda: super(ForkingWorker, self).perform_job(
                job, queue, execution))
        finally:
            tracing.flush()


class InProcessWorker(KarafkadWorker, SimpleWorker):
    """RQ's SimpleWorker (each job in the worker process), as KarafkadWorker changes it."""

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        tracing = self.tracing
        if tracing is None:
            return super().perform_job(job, queue, execution)
        return perform_traced(tracing, self, job, queue, lambda: super(InProcessWorker, self).perform_job(
            job, queue, execution))


Share = tuple[RedisSettings, str]
"""What one RQ worker can serve: a Redis and a job serializer."""


def _shares(table: RouteTable, queues: Sequence[str]) -> dict[Share, list[str]]:
    """The queues by the (Redis, serializer) their jobs are written with, in the order given."""
    where = table.config.queue_redis()
    serializers = {r.template.queue: r.spec.job.serializer for r in table.routes}
    shares: dict[Share, list[str]] = {}
    for queue in queues:
        key = (where.get(queue, table.config.redis), serializers.get(queue, "json"))
        shares.setdefault(key, []).append(queue)
    return shares


def _describe_shares(shares: dict[Share, list[str]]) -> str:
    return "; ".join(f"{', '.join(qs)} on {r.describe()} ({s})" for (r, s), qs in shares.items())


def _one_worker_each(config: Path, shares: dict[Share, list[str]], *, burst: bool, log_level: str,
                     processes: int, fork: bool) -> int:
    """One `karafkad worker` process per share; the first error stops the rest and is the exit status."""
    print(f"karafkad: the queues need {len(shares)} workers, one per Redis and serializer: "
          f"{_describe_shares(shares)}", file=sys.stderr)
    options = ["--log-level", log_level, "--processes", str(processes)]
    options += ["--burst"] if burst else []
    options += [] if fork else ["--no-fork"]
    children = [subprocess.Popen(  # noqa: S603 - this program, with the user's own arguments
        [sys.executable, "-m", "karafkad", "worker", "-c", str(config), *options, *qs]) for qs in shares.values()]

    def pass_on(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, pass_on)
    def failure() -> int:
        """The first child's error status (killed by a signal counts as a runtime failure), or 0."""
        codes = [child.returncode for child in children if child.returncode not in (None, 0)]
        return (codes[0] if codes[0] > 0 else defaults.EXIT_RUNTIME) if codes else defaults.EXIT_OK

    status = defaults.EXIT_OK
    while any(child.poll() is None for child in children):
        if status == defaults.EXIT_OK and (status := failure()) != defaults.EXIT_OK:
            pass_on(signal.SIGTERM, None)  # one worker down: stop the rest, and let systemd restart all
        time.sleep(0.2)
    return status or failure()
