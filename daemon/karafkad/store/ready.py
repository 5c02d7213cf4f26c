"""Jobs RQ marked ready to run after their dependency finished, moved onto their queue without delay.

RQ 3.0 releases the jobs waiting for a finished job in two steps: the worker
that finished it moves them, with its own status change, to the queue's
ReadyJobRegistry (`rq:ready:QUEUE`), then enqueues them one by one, each
under a WATCH of the whole registry. With several workers finishing jobs,
another worker's write to that registry aborts the transaction, and RQ
leaves the job there "for a later cleanup pass": a worker's maintenance,
every 10 minutes by default. An ordered route's key then stands still for up
to 10 minutes (4 workers: most links of a chain, measured in
tests/integration/test_ordering.py). The running daemon moves such jobs
itself, every READY_INTERVAL, in one atomic script per queue
(release_ready.lua) that does what RQ's enqueue_jobs does; a job RQ moves at
the same moment is moved once (the script moves only what it takes out of the
registry itself, and RQ's WATCH sees the script's change). Without a daemon
running, RQ's own cleanup still moves them. `karafkad worker` moves the jobs
its finished job made ready the same way, at once (ReadyReleasingQueue).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from importlib import resources

from redis import Redis
from rq import Queue

from karafkad.config.settings import RedisSettings
from karafkad.errors import EnqueueError
from karafkad.routes.jobs import rq_timestamp
from karafkad.store.failures import redis_failures
from karafkad.store.keys import JOB_KEY_PREFIX, queue_key, ready_key

SCRIPT = resources.files("karafkad.store").joinpath("release_ready.lua").read_text("utf-8")
"""release_ready.lua, read once."""

MOST_AT_ONCE = 1000
"""Jobs moved by one script call (Redis runs nothing else meanwhile); more wait for the next turn."""


class ReadyJobs:
    """Moves the ready jobs of queues in one Redis onto those queues."""

    def __init__(self, client: Redis[bytes], settings: RedisSettings | None = None) -> None:
        """`settings` are the client's, for the words of an error."""
        self.client = client
        self.settings = settings
        self._script = client.register_script(SCRIPT)

    def release(self, queues: Iterable[str]) -> int:
        """Move the jobs waiting in these queues' ready registries; how many. EnqueueError when Redis fails."""
        return self.release_jobs({queue: [] for queue in queues})

    def release_jobs(self, job_ids_by_queue: Mapping[str, Sequence[str]]) -> int:
        """Move these jobs of each queue's ready registry (none named: its oldest) onto the queue, those still
        there and ready; how many. EnqueueError when Redis fails."""
        moved = 0
        enqueued_at = rq_timestamp()
        with redis_failures(self.settings):
            for queue, ids in job_ids_by_queue.items():
                moved += int(self._script(keys=[ready_key(queue), queue_key(queue)],
                                          args=[JOB_KEY_PREFIX, enqueued_at, MOST_AT_ONCE, *ids]))
        return moved


class ReadyReleasingQueue(Queue):
    """RQ's Queue, as `karafkad worker`'s workers use it: the jobs a finished job made ready are moved onto
    their queues at once by the atomic script, instead of by RQ's WATCH-per-job move that gives up when another
    worker writes to the registry meanwhile (the module docstring)."""

    def enqueue_ready_jobs_by_queue(self, job_ids_by_queue_name: dict[str, list[str]]) -> None:
        try:
            ReadyJobs(self.connection).release_jobs(job_ids_by_queue_name)
        except EnqueueError:
            # As RQ does when it cannot: left in the registry for the daemon or RQ's cleanup to move.
            self.log.exception("cannot move ready jobs onto their queues now; the daemon or RQ's cleanup will")
