"""The Redis servers the daemon writes to: one client, enqueuer, mark reader and queue gate per distinct Redis.

Usually one. A group may name its own (`groups.NAME.redis`), so heavy groups
spread over several servers: its jobs, queues and dedupe marks live there,
and each Redis has its own readiness check, durability check and high
watermark over its own queues. A Redis behind Sentinel is one link too: its
client follows the current primary.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence

import redis
from redis import Redis

from karafkad.clients.redis.connection import connect, describe
from karafkad.config.settings import Config, DaemonSettings, RedisSettings
from karafkad.consuming.backpressure import QueueGate
from karafkad.errors import KarafkadError
from karafkad.observability import get_logger
from karafkad.store.enqueuer import Enqueuer
from karafkad.store.marks import MarkReader
from karafkad.store.queues import QueueLengths
from karafkad.store.ready import ReadyJobs

log = get_logger(__name__)

PING_INTERVAL = 1.0
"""Seconds between two readiness pings of one Redis (each refused login is logged by Redis)."""


class RedisLink:
    """One Redis: its client, the enqueuer that writes batches to it, the readers of its marks and queue
    lengths, the gate over its queues."""

    def __init__(self, settings: RedisSettings, daemon: DaemonSettings, queues: Sequence[str],
                 client: Redis[bytes] | None = None) -> None:
        self.settings = settings
        self.client = client or connect(settings)
        self.enqueuer = Enqueuer.for_settings(self.client, settings)
        self.marks = MarkReader(self.client, settings)
        self.queue_lengths = QueueLengths(self.client, settings)
        self.ready = ReadyJobs(self.client, settings)
        self.ordered_queues: tuple[str, ...] = ()
        """The queues of ordered routes here, whose ready jobs the daemon moves (store/ready.py)."""
        self.gate: QueueGate | None = None
        if daemon.queue_high_watermark:
            high = daemon.queue_high_watermark
            low = daemon.queue_low_watermark if daemon.queue_low_watermark is not None else high // 2
            self.gate = QueueGate(self.queue_lengths.read, tuple(queues), high, low)
        self._pinged_at = -float("inf")
        self._answered = False

    def reachable(self) -> bool:
        """Whether it answers a PING (asked at most once per PING_INTERVAL)."""
        now = time.monotonic()
        if now - self._pinged_at >= PING_INTERVAL:
            self._pinged_at = now
            try:
                self.client.ping()
                self._answered = True
            except redis.RedisError:
                self._answered = False
        return self._answered

    def check_durable(self) -> None:
        """Warn (or refuse, with require_durable) when this Redis could lose jobs, or cannot be replicated to."""
        settings = self.settings
        try:
            policy = self.client.config_get("maxmemory-policy").get("maxmemory-policy")
            aof = self.client.config_get("appendonly").get("appendonly")
            save = self.client.config_get("save").get("save")
        except redis.AuthenticationError as exc:
            log.error("Redis refused karafkad's credentials; consuming will wait for it",
                      redis=settings.describe(), error=str(exc))
            return
        except redis.ResponseError:
            log.warning("cannot read the Redis configuration (CONFIG is disabled); durability not checked",
                        redis=settings.describe())
            return
        except redis.RedisError as exc:
            log.warning("Redis is not reachable yet; consuming will wait for it", redis=settings.describe(),
                        error=describe(exc, settings))
            return
        problems = []
        if policy != "noeviction":
            problems.append(f"maxmemory-policy is {policy}: Redis may evict queued jobs (use noeviction)")
        if aof != "yes" and not save:
            problems.append("Redis persists nothing (appendonly no, no save points): a restart loses jobs")
        for problem in problems:
            if settings.require_durable:
                raise KarafkadError(f"refusing to start: {settings.describe()}: {problem} "
                                    "(redis.require_durable is true)")
            log.warning("Redis durability", redis=settings.describe(), problem=problem)

    def close(self) -> None:
        self.client.close()


class Redises:
    """Every Redis of the routes file, by settings; the groups share them."""

    def __init__(self, config: Config, client: Redis[bytes] | None = None) -> None:
        """`client`: the top-level Redis's client (tests pass their own)."""
        self.daemon = config.daemon
        self._links: dict[RedisSettings, RedisLink] = {}
        self._making = threading.Lock()
        """Held while a link is looked up or made: the main loop and the held keys' watch both ask for links."""
        self.default = self._link(config.redis, config, client)
        for settings in config.redises():
            self._link(settings, config)

    def _link(self, settings: RedisSettings, config: Config, client: Redis[bytes] | None = None) -> RedisLink:
        with self._making:
            link = self._links.get(settings)
            if link is None:
                link = self._links[settings] = RedisLink(settings, self.daemon, config.queues_on(settings), client)
                link.ordered_queues = tuple(config.ordered_queues_on(settings))
            return link

    def for_group(self, config: Config, group: str) -> RedisLink:
        """The link of a group's Redis (made on first use: a reload may name a new one)."""
        return self._link(config.redis_for(group), config)

    def client_for(self, settings: RedisSettings, config: Config) -> Redis[bytes]:
        """The client of a Redis of the routes file (the console's operations write to each group's)."""
        return self._link(settings, config).client

    def links(self) -> list[RedisLink]:
        return list(self._links.values())

    def update_queues(self, config: Config) -> None:
        """After a reload: each gate watches the queues now written to its Redis, each link knows its ordered
        queues."""
        for settings, link in self._links.items():
            if link.gate is not None:
                link.gate.queues = tuple(config.queues_on(settings))
            link.ordered_queues = tuple(config.ordered_queues_on(settings))

    def reachable(self) -> bool:
        return all(link.reachable() for link in self._links.values())

    def queue_lengths(self, config: Config, queues: Iterable[str]) -> dict[str, int]:
        """Jobs waiting in each RQ queue, asked of the Redis each one lives on; EnqueueError when one fails."""
        where = config.queue_redis()
        by_link: dict[RedisSettings, list[str]] = {}
        for queue in queues:
            by_link.setdefault(where.get(queue, config.redis), []).append(queue)
        lengths: dict[str, int] = {}
        for settings, names in by_link.items():
            link = self._links.get(settings) or self.default
            lengths.update(link.queue_lengths.read(names))
        return lengths

    def close(self) -> None:
        for link in self._links.values():
            link.close()
