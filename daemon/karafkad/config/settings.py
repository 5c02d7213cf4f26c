"""The routes file as typed settings: frozen dataclasses with the defaults applied.

`loading` builds them from a checked document; everything downstream reads
these, never the raw YAML.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from karafkad import defaults
from karafkad.config.secrets import MASK, Secret, mask_url
from karafkad.config.yamlfile import Document, PathKey
from karafkad.errors import Problem

KAFKA_TLS_FILES = ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_crlfile")
"""The `kafka` keys that name files (a relative path is relative to the routes file)."""

REDIS_TLS_FILES = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
"""The `redis` keys that name files (a relative path is relative to the routes file)."""

REGISTRY_TLS_FILES = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
"""The `schema_registry` keys that name files (a relative path is relative to the routes file)."""

REGISTRY_DECODES = ("avro", "protobuf", "json_schema")
"""The decode modes of records in the Confluent wire format, whose writer schema is fetched from the
`schema_registry` by the id each record carries."""


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: tuple[str, ...] = (defaults.BOOTSTRAP_SERVERS,)
    client_id: str = defaults.CLIENT_ID
    security: Mapping[str, Any] = field(default_factory=dict)
    """SSL/SASL options with kafka-python's names; passwords are Secret."""

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for KafkaConsumer/KafkaProducer/KafkaAdminClient."""
        options: dict[str, Any] = {"bootstrap_servers": list(self.bootstrap_servers), "client_id": self.client_id}
        for key, value in self.security.items():
            options[key] = value.reveal() if isinstance(value, Secret) else value
        return options

    def describe(self) -> dict[str, Any]:
        """The settings with secrets masked, for `check`, logs and the status page."""
        return {"bootstrap_servers": list(self.bootstrap_servers), "client_id": self.client_id,
                **{k: str(v) if isinstance(v, Secret) else v for k, v in self.security.items()}}


@dataclass(frozen=True)
class SentinelSettings:
    """Redis Sentinel: where the sentinels are and the name they monitor the primary under."""

    addresses: tuple[tuple[str, int], ...]
    master: str
    username: str | None = None
    password: Secret | None = None
    """The sentinels' own (the primary's are RedisSettings.username/password)."""

    def describe(self) -> str:
        return f"sentinel {self.master} via {','.join(f'{h}:{p}' for h, p in self.addresses)}"


@dataclass(frozen=True)
class RedisSettings:
    url: str | None = None
    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    username: str | None = None
    password: Secret | None = None
    ssl: bool = False
    ssl_ca_certs: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: Secret | None = None
    ssl_check_hostname: bool = True
    socket_timeout: float = 5.0
    require_durable: bool = False
    dedupe_window: int = defaults.DEDUPE_WINDOW
    sentinel: SentinelSettings | None = None
    min_replicas_acked: int = 0
    """Replicas that must acknowledge a batch (WAIT) before its offsets are committed."""
    replica_ack_timeout_ms: int = 1000

    @property
    def tls(self) -> bool:
        """Whether the connection is TLS (`ssl: true`, or a `rediss://` url)."""
        return self.url.startswith("rediss://") if self.url else self.ssl

    def describe(self) -> str:
        """Where Redis is, with any password masked."""
        if self.sentinel is not None:
            return f"{self.sentinel.describe()} db {self.db}"
        if self.url:
            return mask_url(self.url)
        scheme = "rediss" if self.ssl else "redis"
        user = f"{self.username or ''}:{MASK}@" if self.password else ""
        return f"{scheme}://{user}{self.host}:{self.port}/{self.db}"

    def __repr__(self) -> str:
        # The generated repr would show a password written inside `url`.
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self) if f.name != "url")
        return f"RedisSettings(url={mask_url(self.url) if self.url else None!r}, {fields})"


@dataclass(frozen=True)
class RegistrySettings:
    """The `schema_registry` section: where the Confluent-compatible Schema Registry is and how to reach it."""

    url: str
    """Its API's base URL: `https://registry:8081`, or Apicurio's `https://host/apis/ccompat/v7`."""
    username: str | None = None
    password: Secret | None = None
    """HTTP basic auth, sent with every request (with `username`)."""
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: Secret | None = None
    ssl_check_hostname: bool = True
    timeout: float = defaults.REGISTRY_TIMEOUT
    """Seconds to connect, and between two reads of an answer."""

    def describe(self) -> str:
        """Where the registry is (a password inside the url masked) and as whom."""
        return mask_url(self.url) + (f" as {self.username}" if self.username else "")

    def __repr__(self) -> str:
        # The generated repr would show a password written inside `url`.
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self) if f.name != "url")
        return f"RegistrySettings(url={mask_url(self.url)!r}, {fields})"


@dataclass(frozen=True)
class PluginSettings:
    paths: tuple[Path, ...]
    packages: tuple[str, ...] = ()


@dataclass(frozen=True)
class DaemonSettings:
    shutdown_timeout: float = defaults.SHUTDOWN_TIMEOUT
    http_host: str = "127.0.0.1"
    http_port: int | None = None
    max_message_bytes: int = defaults.MAX_MESSAGE_BYTES
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "info"
    queue_high_watermark: int | None = None
    queue_low_watermark: int | None = None
    require_topics: bool = False


@dataclass(frozen=True)
class WebAuth:
    """Who may sign in to the console (`web.auth`): a token, or a user and a password hash; secrets never shown."""

    token: Secret | None = None
    user: str | None = None
    password_hash: Secret | None = None
    """`pbkdf2_sha256$ITERATIONS$SALT$HASH` (web/auth.py checks a password against it)."""
    protect_reads: bool = False
    """Signing in is needed to read the console too (not only to act)."""


@dataclass(frozen=True)
class WebSettings:
    """The console on the HTTP port (`web`): who may act on it, and its TLS."""

    auth: WebAuth | None = None
    """None: the console is read-only (every action refused)."""
    certfile: str | None = None
    keyfile: str | None = None

    @property
    def tls(self) -> bool:
        return self.certfile is not None


@dataclass(frozen=True)
class TopicSpec:
    """A topic as routes.yaml declares it should be."""

    name: str
    partitions: int
    replication_factor: int | None = None
    """None: the broker's default."""
    config: Mapping[str, str] = field(default_factory=dict)
    """Kafka topic configs, as the strings Kafka keeps them as."""


@dataclass(frozen=True)
class JobOptions:
    timeout: int = defaults.JOB_TIMEOUT
    result_ttl: int = defaults.RESULT_TTL
    failure_ttl: int = defaults.FAILURE_TTL
    ttl: int | None = None
    retry_max: int = 0
    retry_intervals: tuple[int, ...] = ()
    at_front: bool = False
    description: str | None = None
    serializer: Literal["json", "pickle"] = "json"
    delay: int | None = None
    """Seconds after consuming that the job is due (RQ's scheduled-job registry)."""
    at: str | None = None
    """`params.field` holding the time the job is due."""

    @property
    def at_path(self) -> tuple[str, ...]:
        """The keys of `at` below params: `params.a.b` -> ("a", "b")."""
        return tuple(self.at.split(".")[1:]) if self.at else ()


@dataclass(frozen=True)
class BatchSize:
    """How big a sized batch route's batches grow (`batch: {max_messages, max_wait}`): a partition's records are
    gathered across polls until `max_messages` of them are, or `max_wait` seconds passed since the first."""

    max_messages: int = defaults.BATCH_MAX_MESSAGES
    """The most messages one job carries (more gathered make several jobs)."""
    max_wait: float = defaults.BATCH_MAX_WAIT
    """Seconds from a partition's first gathered record to its batch being decided, written and committed."""


@dataclass(frozen=True)
class BatchOptions:
    """A batch route's `batch`: its jobs carry a list of messages (and of metas)."""

    size: BatchSize | None = None
    """None (`batch: true`): a job holds what one poll returned of a partition, however many that is."""


@dataclass(frozen=True)
class RouteSpec:
    """One route as written, with the defaults applied."""

    group: str
    index: int
    name: str
    topics: tuple[str, ...]
    handler: str
    queue: str
    job: JobOptions
    schema: str | Mapping[str, Any] | bool | None = None
    filter: str | None = None
    before_enqueue: tuple[str, ...] = ()
    decode: Literal["json", "text", "raw", "avro", "protobuf", "json_schema"] = "json"
    reader_schema: str | Mapping[str, Any] | None = None
    """With `decode: avro`: the Avro schema records are resolved to (a file beside the routes file, or inline),
    whatever schema each was written with."""
    subjects: tuple[str, ...] = ()
    """The Schema Registry subjects the route expects its records under (`karafkad check` names those missing)."""
    tombstone: Literal["skip", "enqueue", "dead_letter"] = "skip"
    dead_letter: str | None = None
    on_error: Literal["dead_letter", "skip"] = "skip"
    batch: BatchOptions | None = None
    """None: one job per message."""
    pass_meta: bool | None = None
    max_age: int | None = None
    """Seconds; an older message (by its Kafka timestamp) is skipped as expired."""
    ordering: Literal["none", "key", "partition"] = "none"
    """Which jobs of the route run one after another (store/enqueuer.py writes them as RQ job dependencies)."""
    on_failure: Literal["hold", "skip"] = "hold"
    """On an ordered route: whether a job that failed for good holds its key's later jobs, or lets them run."""

    @property
    def ordered(self) -> bool:
        return self.ordering != "none"

    @property
    def registry(self) -> bool:
        """Its records are in the Confluent wire format, their schemas in the Schema Registry."""
        return self.decode in REGISTRY_DECODES

    @property
    def path(self) -> PathKey:
        """Where this route is in the routes file (for error messages)."""
        return ("groups", self.group, "routes", self.index)


@dataclass(frozen=True)
class GroupSpec:
    id: str
    routes: tuple[RouteSpec, ...]
    threads: int = 1
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    session_timeout_ms: int = defaults.SESSION_TIMEOUT_MS
    heartbeat_interval_ms: int | None = None
    max_poll_records: int = defaults.MAX_POLL_RECORDS
    max_poll_interval_ms: int = defaults.MAX_POLL_INTERVAL_MS
    instance_id: str | None = None
    """Static membership id (thread N uses `<instance_id>-N`), or None for a dynamic member."""
    isolation_level: Literal["read_committed", "read_uncommitted"] = "read_committed"
    assignment_strategy: Literal["range", "roundrobin", "sticky", "cooperative-sticky"] = "range"
    redis: RedisSettings | None = None
    """The group's own Redis, or None for the top-level one (Config.redis_for)."""

    @property
    def topics(self) -> tuple[str, ...]:
        """Every topic this group subscribes to, in first-mentioned order."""
        return tuple(dict.fromkeys(t for r in self.routes for t in r.topics))

    def gathered(self) -> dict[str, BatchSize]:
        """The topics whose partitions' records are gathered across polls (those with a sized batch route), each
        with the size its batches are gathered to: the smallest max_messages and max_wait of its sized batch
        routes, as every route of the topic sees the same batches."""
        sizes: dict[str, list[BatchSize]] = {}
        for route in self.routes:
            if route.batch is not None and route.batch.size is not None:
                for topic in route.topics:
                    sizes.setdefault(topic, []).append(route.batch.size)
        return {topic: BatchSize(min(s.max_messages for s in found), min(s.max_wait for s in found))
                for topic, found in sizes.items()}


@dataclass(frozen=True)
class Config:
    file: Path
    kafka: KafkaSettings
    redis: RedisSettings
    plugins: PluginSettings
    daemon: DaemonSettings
    groups: tuple[GroupSpec, ...]
    document: Document = field(compare=False, repr=False)
    warnings: tuple[Problem, ...] = field(default=(), compare=False)
    topics: tuple[TopicSpec, ...] = ()
    """The topics section: how topics should be (karafkad topics plan/apply)."""
    schema_registry: RegistrySettings | None = None
    """Where the writer schemas of `avro`, `protobuf` and `json_schema` routes are (None: no such route)."""
    web: WebSettings = field(default_factory=WebSettings)
    """The console's sign-in and TLS."""

    @property
    def base_dir(self) -> Path:
        return self.file.parent

    def redis_for(self, group: str) -> RedisSettings:
        """The Redis of a group's jobs, queues and marks: its own, or the top-level one."""
        for spec in self.groups:
            if spec.id == group:
                return spec.redis or self.redis
        return self.redis

    def redises(self) -> list[RedisSettings]:
        """Every distinct Redis the routes file names (the top-level one first)."""
        found = [self.redis]
        for spec in self.groups:
            if spec.redis is not None and spec.redis not in found:
                found.append(spec.redis)
        return found

    def queue_redis(self) -> dict[str, RedisSettings]:
        """RQ queue -> the Redis its jobs are written to (checks.py makes sure a queue has only one)."""
        return {route.queue: self.redis_for(route.group) for route in self.routes}

    def queues_on(self, settings: RedisSettings) -> list[str]:
        """The RQ queues whose jobs are written to this Redis, sorted."""
        return sorted({queue for queue, where in self.queue_redis().items() if where == settings})

    def ordered_queues_on(self, settings: RedisSettings) -> list[str]:
        """The RQ queues of this Redis that receive an ordered route's jobs (RQ dependencies), sorted."""
        return sorted({route.queue for route in self.routes
                       if route.ordered and self.redis_for(route.group) == settings})

    @property
    def routes(self) -> tuple[RouteSpec, ...]:
        return tuple(r for g in self.groups for r in g.routes)

