"""A Redis client for the routes file's `redis` section: the daemon's, its readiness check's and the workers'."""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from karafkad.config.settings import RedisSettings


def connect(settings: RedisSettings, *, blocking: bool = False) -> Redis[bytes]:
    """A Redis client for these settings. It connects lazily, on first use.

    `blocking` is for RQ workers, whose BLPOP waits longer than any socket
    timeout the daemon would use.
    """
    common: dict[str, Any] = {
        "socket_timeout": None if blocking else settings.socket_timeout,
        "socket_connect_timeout": settings.socket_timeout,
        "health_check_interval": 30,
        # Retries are the daemon's (with backoff, pausing the partitions meanwhile);
        # a client that retried on its own would hide an outage.
        "retry": Retry(NoBackoff(), 0),
    }
    if settings.username:
        common["username"] = settings.username
    if settings.password:
        common["password"] = settings.password.reveal()
    if settings.url:
        return Redis.from_url(settings.url, **common)
    return Redis(host=settings.host, port=settings.port, db=settings.db, ssl=settings.ssl,
                 ssl_ca_certs=settings.ssl_ca_certs, **common)
