"""Turn a routes file into checked, typed settings (nothing is imported or compiled here).

The file is read by `yamlfile` (safe, with positions), checked against the
JSON Schema in `data/routes.schema.json` (every problem at once, each with
file, line and field path), then the defaults are applied. Compiling routes
(handlers, message schemas, filters) is `routing`'s job.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jsonschema

from karafkad import defaults
from karafkad.errors import ConfigError, Problem
from karafkad.yamlfile import Document, PathKey, load_bytes, load_file

MASK = "***"
"""What a secret is printed as."""

SECRET_MIN_LENGTH = 3
"""Shorter secret values are not masked inside other text (masking every "1" in
a log line would garble it and protect nothing worth protecting); they are
still printed as `***` wherever they are printed as a setting."""

_known_secrets: set[str] = set()
_known_version = [0]
_known_frozen: list[tuple[int, frozenset[str]]] = [(0, frozenset())]
"""known_secrets()'s answer, rebuilt only when the version moved (the log processor asks on every line)."""
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@\[\]]*:)"
                           r"(?P<password>[^\s/]+?)(?=@[^\s@/?#]*(?:[/?#\s]|$))")
"""`scheme://user:password@host`; the password runs to the last `@` before the host (unencoded `@`s too)."""
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:password|sasl_plain_password|ssl_password)=)(?P<password>[^&#\s]+)",
                             re.IGNORECASE)


def remember_secret(value: str) -> None:
    """Note a secret value, so that `redact` masks it inside any text (log lines, error messages)."""
    if isinstance(value, str) and len(value) >= SECRET_MIN_LENGTH and value not in _known_secrets:
        _known_secrets.add(value)
        _known_version[0] += 1


def known_secrets() -> tuple[int, frozenset[str]]:
    """(a number that changes whenever a secret is added, every secret remembered so far)."""
    if _known_frozen[0][0] != _known_version[0]:
        _known_frozen[0] = (_known_version[0], frozenset(_known_secrets))
    return _known_frozen[0]


def mask_url(text: str) -> str:
    """`redis://user:pw@host` -> `redis://user:***@host`, and `?password=pw` -> `?password=***`, anywhere in text."""
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    if "password=" in text.lower():
        text = _QUERY_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    return text


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL passwords and the given secrets (and every remembered one) masked."""
    for secret in sorted({*secrets, *_known_secrets}, key=len, reverse=True):
        if len(secret) >= SECRET_MIN_LENGTH and secret in text:
            text = text.replace(secret, MASK)
    return mask_url(text)


class Secret:
    """A password or key: usable by the clients, printed as `***` everywhere else.

    Every Secret's value is remembered (see `redact`), so the log processor in
    observability masks it even where it turns up inside other text.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        remember_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


SECRET_KEYS = frozenset({"sasl_plain_password", "ssl_password", "password"})
"""Keys whose values are wrapped in Secret as soon as they are read, and never quoted in a problem."""


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
class RedisSettings:
    url: str | None = None
    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    username: str | None = None
    password: Secret | None = None
    ssl: bool = False
    ssl_ca_certs: str | None = None
    socket_timeout: float = 5.0
    require_durable: bool = False
    dedupe_window: int = defaults.DEDUPE_WINDOW

    def describe(self) -> str:
        """Where Redis is, with any password masked."""
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
    decode: Literal["json", "text", "raw"] = "json"
    tombstone: Literal["skip", "enqueue", "dead_letter"] = "skip"
    dead_letter: str | None = None
    on_error: Literal["dead_letter", "skip"] = "skip"
    batch: bool = False
    pass_meta: bool | None = None

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

    @property
    def topics(self) -> tuple[str, ...]:
        """Every topic this group subscribes to, in first-mentioned order."""
        return tuple(dict.fromkeys(t for r in self.routes for t in r.topics))


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

    @property
    def base_dir(self) -> Path:
        return self.file.parent

    @property
    def routes(self) -> tuple[RouteSpec, ...]:
        return tuple(r for g in self.groups for r in g.routes)


@cache
def routes_schema() -> dict[str, Any]:
    """The JSON Schema of the routes file (also at config/routes.schema.json)."""
    text = resources.files("karafkad").joinpath("data/routes.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(routes_schema())


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, check and type a routes file; raise ConfigError listing every problem."""
    file = Path(path)
    return _checked(file, load_file(file, os.environ if environ is None else environ, secret_keys=SECRET_KEYS))


def parse_config(raw: bytes, file: Path, environ: Mapping[str, str]) -> Config:
    """`load_config` of a file's bytes (for tests and fuzzing: nothing is read from disk)."""
    return _checked(file, load_bytes(raw, str(file), environ, secret_keys=SECRET_KEYS))


def _checked(file: Path, document: Document) -> Config:
    problems = schema_problems(document)
    if problems:
        raise ConfigError(problems)
    try:
        return _typed(file, document)
    except ConfigError as exc:
        raise ConfigError(_without_secrets(document, exc.problems)) from None


def document_secrets(data: Any) -> set[str]:
    """Every value written under a secret key, and every password inside a URL, anywhere in `data`."""
    found: set[str] = set()
    pending: list[tuple[Any, bool]] = [(data, False)]
    while pending:
        node, secret = pending.pop()
        if isinstance(node, dict):
            pending.extend((v, k in SECRET_KEYS) for k, v in node.items())
        elif isinstance(node, list):
            pending.extend((v, secret) for v in node)
        elif secret and node is not None:
            found.add(json.dumps(node) if isinstance(node, bool) else str(node))
        if isinstance(node, str) and "://" in node:
            found.update(m["password"] for m in _URL_PASSWORD.finditer(node))
    return found


def _without_secrets(document: Document, problems: Iterable[Problem]) -> list[Problem]:
    """The problems, with every secret of the document masked in their messages.

    (A problem at a secret key never quotes its value in the first place, see
    `_explain`; this also catches a secret repeated elsewhere in the file.)
    """
    secrets = document_secrets(document.data)
    out = []
    for problem in problems:
        message = redact(problem.message, secrets)
        out.append(dataclasses.replace(problem, message=message) if message != problem.message else problem)
    return out


def schema_problems(document: Document) -> list[Problem]:
    """Every way the document breaks the routes-file schema, as readable problems (secrets masked)."""
    return _without_secrets(document, _schema_problems(document))


def _schema_problems(document: Document) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(document.data, dict):
        kind = _kind(document.data)
        return [document.problem((), "the file must be a YAML mapping with a `groups` section, "
                                     f"not {'an' if kind[0] in 'aeiou' else 'a'} {kind}")]
    errors = list(_validator().iter_errors(document.data))
    # A value of the wrong type fails its other rules too (a list is "valid" for
    # `required`...): its type is the one thing to say about it.
    mistyped = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    for error in errors:
        if error.validator != "type" and tuple(error.absolute_path) in mistyped:
            continue
        substituted = tuple(error.absolute_path) in document.interpolated
        for found in _explain(document, error):
            note = " (the value after substituting environment variables)" if substituted else ""
            problems.append(dataclasses.replace(found, message=found.message + note))
    return sorted(set(problems))


def _known_keys(where: str) -> set[str]:
    defs = routes_schema()["$defs"]
    keys = set(defs["routeOptions"]["properties"])
    if where == "route":
        keys |= set(defs["route"]["properties"])
    return keys


@cache
def every_schema_key() -> frozenset[str]:
    """Every key the routes file knows, anywhere."""
    keys: set[str] = set()
    pending: list[Any] = [routes_schema()]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            keys.update(node.get("properties", {}))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return frozenset(keys)


def _misspelt(key: str, instance: Mapping[str, Any]) -> bool:
    """True when `instance` has an unknown key that looks like `key` (a typo reported on its own)."""
    unknown = [str(k) for k in instance if k not in every_schema_key()]
    return bool(difflib.get_close_matches(key, unknown, n=1))


def _explain(document: Document, error: jsonschema.ValidationError) -> Iterable[Problem]:
    """One jsonschema error -> problems a person can act on."""
    path: PathKey = tuple(error.absolute_path)
    instance: Any = error.instance
    validator = error.validator
    expected: Any = error.validator_value
    if validator in ("additionalProperties", "unevaluatedProperties") and isinstance(instance, dict):
        schema_props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        is_route = len(path) == 4 and path[0] == "groups" and path[2] == "routes"
        known = set(schema_props)
        if validator == "unevaluatedProperties":
            known |= _known_keys("route" if is_route else "defaults")
        for key in instance:
            if key not in known:
                hint = difflib.get_close_matches(str(key), sorted(known), n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else f"; known keys: {', '.join(sorted(known))}"
                yield document.problem((*path, key), f"unknown key {key!r}{suggestion}")
        return
    if validator == "required":
        missing = [k for k in expected if k not in instance]
        for key in missing:
            if not _misspelt(key, instance):  # else the unknown key's "did you mean" says it all
                yield document.problem(path, f"missing required key {key!r}")
        return
    if validator == "oneOf" and isinstance(instance, dict) and ("topic" in instance or "topics" in instance
                                                                 or "handler" in instance):
        if "topic" in instance and "topics" in instance:
            yield document.problem(path, "a route has `topic` or `topics`, not both")
        elif "topic" not in instance and "topics" not in instance and not _misspelt("topic", instance):
            yield document.problem(path, "missing required key 'topic' (or 'topics')")
        return
    if validator == "not" and path == ("redis",) and isinstance(instance, dict):
        for key in _REDIS_URL_PARTS:
            if key in instance:
                yield document.problem((*path, key), f"`url` already says where Redis is, so `{key}` would be "
                                                     f"ignored; give either `url` or host/port/db/ssl")
        return
    if path and path[-1] in SECRET_KEYS:
        # Never quote a password, however short; its type is all there is to say.
        got = "null" if instance is None else f"{_kind(instance)} ({MASK})"
        yield document.problem(path, f"expected {_type_name(expected) if validator == 'type' else 'a string'}, "
                                     f"got {got}")
        return
    if validator == "type":
        got = "null" if instance is None else f"{_kind(instance)} {_short(instance)}"
        yield document.problem(path, f"expected {_type_name(expected)}, got {got}")
        return
    if validator == "enum":
        choices = ", ".join(repr(c) for c in expected)
        yield document.problem(path, f"{_short(instance)} is not one of {choices}")
        return
    if validator == "const":
        yield document.problem(path, f"must be {expected!r}, got {_short(instance)}")
        return
    if validator == "propertyNames" or "propertyNames" in error.relative_schema_path:
        # The instance is the key itself: point at it.
        yield document.problem((*path, str(instance)), f"{_short(instance)} is not a valid Kafka group id: letters, "
                                                       "digits, `.`, `_` and `-`, at most 249 characters")
        return
    if validator == "pattern":
        what = error.schema.get("description", "") if isinstance(error.schema, dict) else ""
        yield document.problem(path, f"{_short(instance)} is not valid here" + (f": {what}" if what else ""))
        return
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        relation = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[validator]
        yield document.problem(path, f"{_short(instance)} is out of range: must be {relation} {expected}")
        return
    if validator in ("minItems", "minProperties"):
        yield document.problem(path, "must not be empty")
        return
    if validator in ("minLength", "maxLength") and isinstance(instance, str):
        yield document.problem(path, "must not be empty" if validator == "minLength" and expected == 1 else
                               f"is {len(instance)} characters long; the {validator[:3]}imum is {expected}")
        return
    if validator == "oneOf" and error.context:
        # A value that can take several shapes: the complaint of the shape its type matches.
        best = jsonschema.exceptions.best_match(e for e in error.context if e.validator != "type")
        if best is not None:
            yield from _explain(document, best)
            return
        kinds = sorted({_type_name(e.validator_value) for e in error.context if e.validator == "type"})
        yield document.problem(path, f"expected {' or '.join(kinds) or 'another value'}, got {_kind(instance)} "
                                     f"{_short(instance)}")
        return
    yield document.problem(path, error.message)


def _type_name(value: Any) -> str:
    if isinstance(value, list):
        return " or ".join(_type_name(v) for v in value)
    return {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
            "number": "a number", "boolean": "true or false", "null": "null"}.get(str(value), str(value))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer",
            float: "number"}.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    text = mask_url(text)  # before clipping, which could cut a URL's password off from its `@`
    return text if len(text) <= 60 else text[:57] + "..."


# --- typing the checked document ---------------------------------------------


def kafka_settings_of(kafka: Mapping[str, Any]) -> KafkaSettings:
    """KafkaSettings from a checked `kafka` section: servers split, secrets wrapped, the rest passed through."""
    servers = kafka.get("bootstrap_servers", defaults.BOOTSTRAP_SERVERS)
    if isinstance(servers, str):
        servers = [s.strip() for s in servers.split(",") if s.strip()]
    security = {k: (Secret(v) if k in SECRET_KEYS else v) for k, v in kafka.items()
                if k not in ("bootstrap_servers", "client_id")}
    return KafkaSettings(tuple(servers), kafka.get("client_id", defaults.CLIENT_ID), security)


def _typed(file: Path, document: Document) -> Config:
    data: dict[str, Any] = document.data
    kafka_settings = kafka_settings_of(data.get("kafka", {}))

    redis = dict(data.get("redis", {}))
    if "password" in redis:
        redis["password"] = Secret(redis["password"])
    for secret in document_secrets(data):  # a password inside redis.url too
        remember_secret(secret)
    redis_settings = RedisSettings(**redis)

    plugins = data.get("plugins", {})
    plugin_paths = tuple((file.parent / p).resolve() for p in plugins.get("paths", ["handlers"]))
    plugin_settings = PluginSettings(plugin_paths, tuple(plugins.get("packages", [])))

    daemon_settings = DaemonSettings(**data.get("daemon", {}))
    route_defaults = data.get("defaults", {})
    warnings: list[Problem] = []
    groups = []
    for group_id, group in data["groups"].items():
        routes = tuple(
            _route(group_id, index, route_defaults, route, document, warnings)
            for index, route in enumerate(group["routes"])
        )
        options = {k: v for k, v in group.items() if k != "routes"}
        groups.append(GroupSpec(id=group_id, routes=routes, **options))
    config = Config(file, kafka_settings, redis_settings, plugin_settings, daemon_settings, tuple(groups),
                    document, tuple(warnings))
    problems = _cross_checks(config)
    if problems:
        raise ConfigError(problems)
    return config


def _route(group: str, index: int, route_defaults: Mapping[str, Any], route: Mapping[str, Any],
           document: Document, warnings: list[Problem]) -> RouteSpec:
    merged = {**route_defaults, **route}
    job = {**route_defaults.get("job", {}), **route.get("job", {})}
    retry = job.pop("retry", None)
    if retry:
        intervals = retry.get("intervals", 0)
        job["retry_max"] = retry["max"]
        job["retry_intervals"] = tuple(intervals) if isinstance(intervals, list) else (intervals,)
    topics = tuple(merged["topics"]) if "topics" in merged else (merged["topic"],)
    hooks = merged.get("before_enqueue", ())
    dead_letter = merged.get("dead_letter")
    on_error = merged.get("on_error", "dead_letter" if dead_letter else "skip")
    path: PathKey = ("groups", group, "routes", index)
    if on_error == "skip" and "on_error" not in merged:
        warnings.append(document.problem(path, "no dead_letter topic: messages this route rejects will be "
                                               "skipped (logged and counted), not kept"))
    return RouteSpec(
        group=group,
        index=index,
        name=merged.get("name", f"{topics[0]}->{merged['handler']}"),
        topics=topics,
        handler=merged["handler"],
        queue=merged.get("queue", defaults.QUEUE),
        job=JobOptions(**job),
        schema=merged.get("schema"),
        filter=merged.get("filter"),
        before_enqueue=(hooks,) if isinstance(hooks, str) else tuple(hooks),
        decode=merged.get("decode", "json"),
        tombstone=merged.get("tombstone", "skip"),
        dead_letter=dead_letter,
        on_error=on_error,
        batch=merged.get("batch", False),
        pass_meta=merged.get("pass_meta"),
    )


def _cross_checks(config: Config) -> list[Problem]:
    """Rules that span several values, which JSON Schema cannot say."""
    doc = config.document
    problems = []
    serializers: dict[str, tuple[str, RouteSpec]] = {}
    names: dict[tuple[str, str], RouteSpec] = {}
    for route in config.routes:
        if route.on_error == "dead_letter" and not route.dead_letter:
            problems.append(doc.problem(_origin(doc, route, "on_error"),
                                        "on_error is dead_letter but the route has no dead_letter topic"))
        if route.tombstone == "dead_letter" and not route.dead_letter:
            problems.append(doc.problem(_origin(doc, route, "tombstone"),
                                        "tombstone is dead_letter but the route has no dead_letter topic"))
        if route.dead_letter and route.dead_letter in route.topics:
            problems.append(doc.problem(_origin(doc, route, "dead_letter"),
                                        "the dead-letter topic is also a topic of this route (a loop)"))
        if route.job.result_ttl > 0 and route.job.result_ttl >= config.redis.dedupe_window:
            problems.append(doc.problem(_origin(doc, route, "job", "result_ttl"),
                                        f"result_ttl {route.job.result_ttl} must be below redis.dedupe_window "
                                        f"({config.redis.dedupe_window}), or a redelivered message could run twice"))
        if route.job.description is not None:
            problems.extend(_description_problems(doc, route))
        seen = serializers.setdefault(route.queue, (route.job.serializer, route))
        if seen[0] != route.job.serializer:
            problems.append(doc.problem(_origin(doc, route, "job", "serializer"),
                                        f"queue {route.queue!r} gets {route.job.serializer} jobs here but "
                                        f"{seen[0]} jobs from route {seen[1].name!r}; an RQ worker reads one "
                                        "serializer"))
        key = (route.group, route.name)
        if key in names:
            problems.append(doc.problem((*route.path, "name"),
                                        f"route name {route.name!r} is used twice in group {route.group!r}; "
                                        "give one a `name:`"))
        names[key] = route
    problems.extend(_dead_letter_cycles(config))
    for group in config.groups:
        heartbeat = group.heartbeat_interval_ms
        if heartbeat is not None and heartbeat >= group.session_timeout_ms:
            problems.append(doc.problem(("groups", group.id, "heartbeat_interval_ms"),
                                        f"must be below session_timeout_ms ({group.session_timeout_ms}); "
                                        "a third of it is usual"))
    low, high = config.daemon.queue_low_watermark, config.daemon.queue_high_watermark
    if low is not None and high is not None and low >= high:
        problems.append(doc.problem(("daemon", "queue_low_watermark"),
                                    f"must be below queue_high_watermark ({high})"))
    problems.extend(kafka_security_problems(doc, config.kafka))
    for index, path in enumerate(config.plugins.paths):
        if not path.is_dir():
            at: PathKey = ("plugins", "paths", index) if "plugins" in doc.data else ()
            problems.append(doc.problem(at, f"plugin folder {path} does not exist"))
    # A mistake in `defaults` shows up once per route; say it once.
    return list(dict.fromkeys(problems))


_REDIS_URL_PARTS = ("host", "port", "db", "ssl", "ssl_ca_certs")
"""Redis settings that a `url` already decides (the client ignores them beside a url)."""

DESCRIPTION_FIELDS = ("topic", "partition", "offset", "key")
"""The placeholders a job description may use; each is filled in per message."""


def _origin(doc: Document, route: RouteSpec, *keys: str) -> PathKey:
    """Where a route's setting was written: in the route itself, else in `defaults`."""
    for base in (route.path, ("defaults",)):
        value: Any = doc.data
        for part in (*base, *keys):
            found = part in value if isinstance(value, dict) else (
                isinstance(value, list) and isinstance(part, int) and part < len(value))
            if not found:
                break
            value = value[part]
        else:
            return (*base, *keys)
    return (*route.path, *keys)


def _description_problems(doc: Document, route: RouteSpec) -> list[Problem]:
    """A description is filled in with str.format for every job: allow bare placeholders only.

    `{topic.__class__}` or `{key[0]}` would reach into Python objects, `{offset!r}`
    and `{offset:>999999999}` change or blow up the text; none of them is needed.
    """
    text = route.job.description or ""
    at = _origin(doc, route, "job", "description")
    allowed = ", ".join("{" + f + "}" for f in DESCRIPTION_FIELDS)
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        return [doc.problem(at, f"not a valid description: {exc} (write {{{{ and }}}} for literal braces)")]
    problems = []
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        column = text.find(written) + 1
        if name not in DESCRIPTION_FIELDS:
            if not name:
                why = "a placeholder needs a name"
            elif any(c in name for c in ".[") or name.startswith("_"):
                why = "attribute and index lookups are not allowed"
            else:
                hint = difflib.get_close_matches(name, DESCRIPTION_FIELDS, n=1)
                why = f"unknown placeholder{f' (did you mean {{{hint[0]}}}?)' if hint else ''}"
        elif conversion:
            why = "conversions (!r, !s, !a) are not allowed"
        elif spec:
            why = "format specifications (:...) are not allowed"
        else:
            continue
        problems.append(doc.problem_in_value(at, column, f"{written}: {why}; a description may use {allowed}"))
    return problems


def _dead_letter_cycles(config: Config) -> list[Problem]:
    """Dead letters that would come back: a route's dead-letter topic leads, through other routes'
    dead-letter topics, to one of its own topics, so a message every route rejects circles forever.
    (A dead-letter topic that is the route's own topic is reported on its own.)"""
    leads: dict[str, set[str]] = {}
    for route in config.routes:
        if route.dead_letter:
            for topic in route.topics:
                leads.setdefault(topic, set()).add(route.dead_letter)
    problems = []
    for route in config.routes:
        if not route.dead_letter or route.dead_letter in route.topics:
            continue
        trail = _trail(leads, route.dead_letter, set(route.topics))
        if trail:
            loop = " -> ".join([trail[-1], *trail])
            problems.append(config.document.problem(
                _origin(config.document, route, "dead_letter"),
                f"dead letters go round in a loop ({loop}): another route consumes {route.dead_letter!r} "
                "and dead-letters back here"))
    return problems


def _trail(leads: Mapping[str, set[str]], start: str, targets: set[str]) -> list[str]:
    """A path of dead-letter hops from `start` to one of `targets`, or [] when there is none."""
    seen = {start}
    paths = [[start]]
    while paths:
        path = paths.pop(0)
        if path[-1] in targets:
            return path
        for nxt in sorted(leads.get(path[-1], ())):
            if nxt not in seen:
                seen.add(nxt)
                paths.append([*path, nxt])
    return []


def kafka_security_problems(doc: Document, kafka: KafkaSettings) -> list[Problem]:
    """SASL and SSL settings that kafka-python would refuse, or silently not use."""
    security = kafka.security
    protocol = str(security.get("security_protocol", "PLAINTEXT"))
    problems = []
    if protocol.startswith("SASL"):
        if "sasl_mechanism" not in security:
            problems.append(doc.problem(("kafka", "security_protocol"), f"{protocol} needs `sasl_mechanism`"))
        for key in ("sasl_plain_username", "sasl_plain_password"):
            if key not in security:
                problems.append(doc.problem(("kafka", "security_protocol"),
                                            f"{protocol} needs `{key}` (PLAIN and SCRAM both use it)"))
    for key in security:
        if key.startswith("sasl_") and not protocol.startswith("SASL"):
            problems.append(doc.problem(("kafka", key), f"has no effect with security_protocol {protocol}; "
                                                        "set security_protocol to SASL_PLAINTEXT or SASL_SSL"))
        if key.startswith("ssl_") and not protocol.endswith("SSL"):
            problems.append(doc.problem(("kafka", key), f"has no effect with security_protocol {protocol}; "
                                                        "set security_protocol to SSL or SASL_SSL"))
    return problems
