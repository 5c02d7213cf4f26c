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
the same moment is moved once (RQ's WATCH or the script's status check sees
the other). Without a daemon running, RQ's own cleanup still moves them.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources

from redis import Redis

from karafkad.config.settings import RedisSettings
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
        moved = 0
        enqueued_at = rq_timestamp()
        with redis_failures(self.settings):
            for queue in queues:
                moved += int(self._script(keys=[ready_key(queue), queue_key(queue)],
                                          args=[JOB_KEY_PREFIX, enqueued_at, MOST_AT_ONCE]))
        return moved
