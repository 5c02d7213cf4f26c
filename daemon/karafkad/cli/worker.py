"""`karafkad worker`: stock RQ workers (one, or a pool), with the plugin folders importable and the right serializer.

RQ workers started any other way work too: put the plugin folders on
PYTHONPATH and pass `--serializer` (and `--with-scheduler` for retries with
intervals).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rq import SimpleWorker, Worker
from rq.serializers import JSONSerializer, PickleSerializer
from rq.worker_pool import WorkerPool

from karafkad import defaults
from karafkad.cli.output import print_problems
from karafkad.clients.redisconn import connect, describe
from karafkad.errors import ConfigError
from karafkad.routes.table import load_routes


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
    table.loader.activate()  # the plugin folders on sys.path, for this process and the ones it forks
    chosen = list(queues) or list(table.queues())
    serializers = {r.spec.job.serializer for r in table.routes if r.template.queue in chosen}
    if len(serializers) > 1:
        print(f"karafkad: queues {', '.join(chosen)} mix serializers ({', '.join(sorted(serializers))}); "
              "start one worker per serializer", file=sys.stderr)
        return defaults.EXIT_CONFIG
    serializer = PickleSerializer if serializers == {"pickle"} else JSONSerializer
    where = table.config.queue_redis()
    redises = {where.get(q, table.config.redis) for q in chosen}
    if len(redises) > 1:
        found = "; ".join(f"{', '.join(q for q in chosen if where.get(q, table.config.redis) == r)} on "
                          f"{r.describe()}" for r in redises)
        print(f"karafkad: the queues live on different Redis servers ({found}); start one worker per Redis, "
              "naming its queues", file=sys.stderr)
        return defaults.EXIT_CONFIG
    settings = redises.pop()
    if settings.sentinel is not None and processes > 1:
        print("karafkad: --processes cannot follow a Sentinel failover (RQ's WorkerPool rebuilds a plain connection "
              "in its children); run several workers instead (karafkad-worker@ instances)", file=sys.stderr)
        return defaults.EXIT_CONFIG
    # SimpleWorker runs each job in the worker process itself instead of a fork per job: several
    # times the jobs per second, for handlers that are safe in a long-lived process.
    worker_class = Worker if fork else SimpleWorker
    connection = connect(settings, blocking=True)
    try:
        if processes == 1:
            worker = worker_class(chosen, connection=connection, serializer=serializer, name=name)
            worker.work(burst=burst, with_scheduler=True, logging_level=log_level.upper())
        else:
            pool = WorkerPool(chosen, connection=connection, num_workers=processes, worker_class=worker_class,
                              serializer=serializer)
            pool.start(burst=burst, logging_level=log_level.upper())
    except Exception as exc:
        # Not exit 1 (what Python gives an uncaught exception): 1 means a bad
        # routes file, which karafkad-worker@.service does not restart on.
        print(f"karafkad: worker stopped: {describe(exc, settings)}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    return defaults.EXIT_OK
