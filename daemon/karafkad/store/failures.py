"""One way the store's Redis calls fail: EnqueueError, in words an operator can act on.

Every read and write of the store (the enqueuer's script, the marks and
replay windows, the queue lengths, the re-drive's done sets) runs inside
`redis_failures`, so each failure names the Redis and, when there is one,
the TLS file or login that is the cause (clients/redis/connection.describe),
and the callers catch one exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from karafkad.clients.redis.connection import describe
from karafkad.config.settings import RedisSettings
from karafkad.errors import EnqueueError


@contextmanager
def redis_failures(settings: RedisSettings | None = None) -> Iterator[None]:
    """Redis's failures in the block as EnqueueError, in words (the address; a TLS or login cause from
    `settings`, the client's)."""
    try:
        yield
    except redis.RedisError as exc:
        raise EnqueueError(f"Redis: {describe(exc, settings)}") from exc
