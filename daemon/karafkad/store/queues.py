"""How many jobs wait in RQ's queues: the backpressure gate's and the status page's reading.

The queue gate (consuming/backpressure.py) pauses consuming while a queue is
above its high watermark; the status page shows the depths. Both ask through
supervision/redises.py, which asks each queue's own Redis.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis import Redis

from karafkad.config.settings import RedisSettings
from karafkad.store.failures import redis_failures
from karafkad.store.keys import queue_key


class QueueLengths:
    """Reads the lengths of RQ queues from one Redis, all in one round trip."""

    def __init__(self, client: Redis[bytes], settings: RedisSettings | None = None) -> None:
        """`settings` are the client's, for the words of an error."""
        self.client = client
        self.settings = settings

    def read(self, queues: Sequence[str]) -> dict[str, int]:
        """Jobs waiting in each queue; EnqueueError when Redis fails."""
        with redis_failures(self.settings), self.client.pipeline(transaction=False) as pipe:
            for name in queues:
                pipe.llen(queue_key(name))
            lengths = pipe.execute()
        return dict(zip(queues, (int(n) for n in lengths), strict=True))
