"""A Redis client for the routes file's `redis` section: the daemon's, its readiness check's and the workers'.

Also says what a Redis failure means: redis-py reports a TLS failure as a
ConnectionError quoting OpenSSL ("Error 1 connecting to HOST:PORT. [SSL:
CERTIFICATE_VERIFY_FAILED] ..."), which `describe` turns into its cause in
words, as `clients/kafka/failures.py` does for Kafka.
"""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.backoff import NoBackoff
from redis.connection import SSLConnection
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from karafkad.clients.tls import causes
from karafkad.config.secrets import redact
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
        **tls_options(settings),
    }
    if settings.username:
        common["username"] = settings.username
    if settings.password:
        common["password"] = settings.password.reveal()
    if settings.sentinel is not None:
        return _through_sentinels(settings, common)
    if settings.url:
        return Redis.from_url(settings.url, **common)
    return Redis(host=settings.host, port=settings.port, db=settings.db, ssl=settings.ssl, **common)


def _through_sentinels(settings: RedisSettings, common: dict[str, Any]) -> Redis[bytes]:
    """A client of the current primary, as the sentinels say: a connection made after a failover (the
    old ones fail, and the daemon retries) asks them again and goes to the new primary."""
    sentinel = settings.sentinel
    assert sentinel is not None
    asked: dict[str, Any] = {"socket_timeout": settings.socket_timeout,
                             "socket_connect_timeout": settings.socket_timeout, **tls_options(settings)}
    if settings.tls:
        asked["ssl"] = True
    if sentinel.username:
        asked["username"] = sentinel.username
    if sentinel.password is not None:
        asked["password"] = sentinel.password.reveal()
    connection_class = _SentinelSSLConnection if settings.tls else _SentinelConnection
    manager = Sentinel(list(sentinel.addresses), sentinel_kwargs=asked, db=settings.db,
                       connection_class=connection_class, **({"ssl": True} if settings.tls else {}), **common)
    client: Redis[bytes] = manager.master_for(sentinel.master, redis_class=Redis)
    return client


class _SentinelConnection(SentinelManagedConnection):
    """redis-py's Sentinel connection, closed when a reply is interrupted, as a plain connection is.

    redis-py (8.1) reads replies on Sentinel connections with disconnect_on_error=False, so a read cut
    short by an exception that is not a Redis error leaves the connection in the pool with the reply still
    coming: the next command reads that stale reply, or waits for one forever. RQ's warm shutdown is such
    an exception (raised from the SIGTERM handler inside the worker's BLPOP): `karafkad worker` on Sentinel
    then hung at exit, in register_death, until this class closed the interrupted connection.
    """

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("disconnect_on_error", True)
        return super().read_response(*args, **kwargs)


class _SentinelSSLConnection(_SentinelConnection, SSLConnection):
    pass


def tls_options(settings: RedisSettings) -> dict[str, Any]:
    """redis-py's TLS keyword arguments (none without TLS: a plain connection refuses them).

    Verification stays on as redis-py has it (certificate required, host
    name checked) unless ssl_check_hostname says otherwise.
    """
    if not settings.tls:
        return {}
    options: dict[str, Any] = {"ssl_check_hostname": settings.ssl_check_hostname}
    for key in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile"):
        if getattr(settings, key):
            options[key] = getattr(settings, key)
    if settings.ssl_password is not None:
        options["ssl_password"] = settings.ssl_password.reveal()
    return options


def tls_files(settings: RedisSettings | None) -> causes.TlsFiles:
    """The TLS files of a Redis client, for the words of a cause."""
    if settings is None:
        return causes.TlsFiles("the Redis server", cafile_key="ssl_ca_certs")
    return causes.TlsFiles("the Redis server", settings.ssl_ca_certs, settings.ssl_certfile, settings.ssl_keyfile,
                              cafile_key="ssl_ca_certs")


def describe(exc: BaseException, settings: RedisSettings | None = None) -> str:
    """`ExceptionName: message`, secrets masked; for a TLS failure its cause in words and where Redis is:
    "ConnectionError: TLS with rediss://host:port/db failed: Redis's certificate is not signed by ..."."""
    text = f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__ or exc.__context__
    if cause is not None:  # redis-py keeps OpenSSL's token ([SSL: ...]) in the exception it wraps
        text += f" ({type(cause).__name__}: {cause})"
    words = causes.tls_cause(text, tls_files(settings)) if settings is None or settings.tls else None
    if words is None:
        return redact(f"{type(exc).__name__}: {exc}")
    where = f" with {settings.describe()}" if settings is not None else ""
    return redact(f"{type(exc).__name__}: TLS{where} failed: {words}")
