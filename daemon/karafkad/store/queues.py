"""How many jobs wait in RQ's queues: the backpressure gate's and the status page's reading.

The queue gate (consuming/backpressure.py) pauses consuming while a queue is
above its high watermark; the status page shows the depths. Both ask through
supervision/redises.py, which asks each queue's own Redis. A queue's jobs
waiting for an earlier job of their key (an ordered route's, in RQ's
deferred registry) count too: they will run from that queue, and a key held
by a failed job must not let Redis grow without bound while other keys flow.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis import Redis

from karafkad.config.settings import RedisSettings
from karafkad.store.failures import redis_failures
from karafkad.store.keys import deferred_key, queue_key


class QueueLengths:
    """Reads the lengths of RQ queues from one Redis, all in one round trip."""

    def __init__(self, client: Redis[bytes], settings: RedisSettings | None = None) -> None:
        """`settings` are the client's, for the words of an error."""
        self.client = client
        self.settings = settings

    def read(self, queues: Sequence[str]) -> dict[str, int]:
        """Jobs waiting in each queue, and waiting for another job to run from it; EnqueueError when Redis
        fails."""
        with redis_failures(self.settings), self.client.pipeline(transaction=False) as pipe:
            for name in queues:
                pipe.llen(queue_key(name))
                pipe.zcard(deferred_key(name))
            counts = [int(n) for n in pipe.execute()]
        return {name: queued + deferred for name, queued, deferred in zip(queues, counts[0::2], counts[1::2],
                                                                         strict=True)}
