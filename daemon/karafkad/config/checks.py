"""Rules of the routes file that span several values, which JSON Schema cannot say.

Run on the typed settings (`loading` calls `cross_checks`), each problem at
the place in the file where the offending value was written, in a route or
in `defaults`.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from karafkad.config.settings import (
    KAFKA_TLS_FILES,
    REDIS_TLS_FILES,
    REGISTRY_TLS_FILES,
    Config,
    KafkaSettings,
    RedisSettings,
    RouteSpec,
)
from karafkad.config.yamlfile import Document, PathKey
from karafkad.errors import Problem
from karafkad.text import close_match

DESCRIPTION_FIELDS = ("topic", "partition", "offset", "key")
"""The placeholders a job description may use; each is filled in per message."""

MAX_PEM_BYTES = 256 * 1024
"""Bytes of a key or certificate file read to see whether it holds an encrypted key."""


def cross_checks(config: Config) -> list[Problem]:
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
        # The marks that dedupe a route's jobs live in its group's Redis, with that Redis's window.
        window = config.redis_for(route.group).dedupe_window
        if route.job.result_ttl > 0 and route.job.result_ttl >= window:
            problems.append(doc.problem(_origin(doc, route, "job", "result_ttl"),
                                        f"result_ttl {route.job.result_ttl} must be below redis.dedupe_window "
                                        f"({window}), or a redelivered message could run twice"))
        if route.job.description is not None:
            problems.extend(_description_problems(doc, route))
        if route.job.delay is not None and route.job.at is not None:
            problems.append(doc.problem(_origin(doc, route, "job", "at"),
                                        "a job is due after `delay` or at `at`, not both"))
        if route.job.at is not None and route.batch:
            problems.append(doc.problem(_origin(doc, route, "job", "at"),
                                        "`at` takes the time from one message, and a batch route makes one job of "
                                        "many; use `delay` here"))
        problems.extend(_ordering_problems(doc, route))
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
    problems.extend(_queues_on_two_redises(config))
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
    problems.extend(redis_security_problems(doc, ("redis",), config.redis))
    problems.extend(registry_problems(config))
    for group in config.groups:
        if group.redis is not None:
            problems.extend(redis_security_problems(doc, ("groups", group.id, "redis"), group.redis))
    for index, path in enumerate(config.plugins.paths):
        if not path.is_dir():
            at: PathKey = ("plugins", "paths", index) if "plugins" in doc.data else ()
            problems.append(doc.problem(at, f"plugin folder {path} does not exist"))
    # A mistake in `defaults` shows up once per route; say it once.
    return list(dict.fromkeys(problems))


def batch_warnings(config: Config) -> list[Problem]:
    """Batch routes whose jobs will not be the size their `batch` says: every route of a topic sees the same
    batches, gathered to the smallest max_messages and max_wait of the topic's sized batch routes in the group
    (GroupSpec.gathered). Allowed, and said."""
    doc = config.document
    warnings = []
    for group in config.groups:
        gathered = group.gathered()
        for route in group.routes:
            if route.batch is None:
                continue
            for topic in route.topics:
                smallest = gathered.get(topic)
                size = route.batch.size
                if smallest is None or size == smallest:
                    continue
                if size is None:
                    why = (f"`batch: true` here makes a job of each batch of {topic!r} gathered for its sized batch "
                           f"routes (up to {smallest.max_messages} messages), not of each poll")
                else:
                    why = (f"{topic!r} has sized batch routes with smaller batches: every route of it gets batches "
                           f"of up to {smallest.max_messages} messages gathered for at most {smallest.max_wait:g} s "
                           "(the smallest of each), so this route's are too")
                warnings.append(doc.problem(_origin(doc, route, "batch"), why))
    return list(dict.fromkeys(warnings))


def _ordering_problems(doc: Document, route: RouteSpec) -> list[Problem]:
    """`ordering` with what it cannot keep order with, and `on_failure` without an order to keep."""
    problems = []
    if route.ordering == "key" and route.batch:
        problems.append(doc.problem(_origin(doc, route, "ordering"),
                                    "a batch route's job carries many keys: it takes `ordering: partition` (a "
                                    "partition's batch jobs one after another), not `key`"))
    if route.ordered and (route.job.delay is not None or route.job.at is not None):
        setting = "delay" if route.job.delay is not None else "at"
        problems.append(doc.problem(_origin(doc, route, "job", setting),
                                    f"an ordered route's jobs run in order as soon as they can; `{setting}` would "
                                    "make a job due later hold every later job of its key unseen. Drop "
                                    f"`{setting}` or `ordering`"))
    if not route.ordered and _written(doc, route, "on_failure"):
        problems.append(doc.problem(_origin(doc, route, "on_failure"),
                                    "on_failure applies to ordered routes only (ordering: key or partition); "
                                    "a job of an unordered route that fails holds nothing"))
    return problems


def _written(doc: Document, route: RouteSpec, key: str) -> bool:
    """Whether the routes file sets `key` for this route (in the route itself or in `defaults`)."""
    return any(_present(doc, (*base, key)) for base in (route.path, ("defaults",)))


def _present(doc: Document, path: PathKey) -> bool:
    """Whether the routes file has a value at `path`."""
    value: Any = doc.data
    for part in path:
        found = part in value if isinstance(value, dict) else (
            isinstance(value, list) and isinstance(part, int) and part < len(value))
        if not found:
            return False
        value = value[part]
    return True


def _origin(doc: Document, route: RouteSpec, *keys: str) -> PathKey:
    """Where a route's setting was written: in the route itself, else in `defaults`."""
    for base in (route.path, ("defaults",)):
        if _present(doc, (*base, *keys)):
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
                hint = close_match(name, DESCRIPTION_FIELDS)
                why = f"unknown placeholder{f' (did you mean {{{hint}}}?)' if hint else ''}"
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
    if protocol.endswith("SSL"):
        if "ssl_crlfile" in security:
            problems.append(doc.problem(("kafka", "ssl_crlfile"), CRLFILE_UNUSABLE))
        problems.extend(tls_file_problems(doc, ("kafka",), security, KAFKA_TLS_FILES))
    return problems


CRLFILE_UNUSABLE = ("kafka-python 3.0 cannot load a revocation list: every TLS connection would fail with "
                    "\"'crl' is an invalid keyword argument\"; remove ssl_crlfile (and revoke at the broker)")
"""kafka-python 3.0.12 passes the CRL file as `crl=` to SSLContext.load_verify_locations, which has no
such argument, so a client with ssl_crlfile never connects."""


def redis_security_problems(doc: Document, at: PathKey, redis: RedisSettings) -> list[Problem]:
    """TLS settings of a `redis` section (the top-level one or a group's, at `at`) that would not apply, and TLS
    files that are not there."""
    written = doc.data
    for key in at:
        written = written.get(key, {}) if isinstance(written, dict) else {}
    options = {key: getattr(redis, key) for key in (*REDIS_TLS_FILES, "ssl_password", "ssl_check_hostname")
               if key in written}
    if not redis.tls:
        how = "use a rediss:// url" if redis.url else "set ssl: true"
        return [doc.problem((*at, key), f"has no effect without TLS; {how}") for key in options]
    return tls_file_problems(doc, at, options, REDIS_TLS_FILES)


def tls_file_problems(doc: Document, section: PathKey, options: Mapping[str, Any],
                      files: tuple[str, ...]) -> list[Problem]:
    """TLS files (CA, client certificate, key) that the client could not read, found before it connects.

    kafka-python and redis-py read them at each connection, and only say
    "No such file or directory" in a log line; and an encrypted key without
    a password makes OpenSSL ask for one on the terminal.
    """
    problems = []
    for key in files:
        path = options.get(key)
        if isinstance(path, str):
            why = _unreadable(Path(path))
            if why:
                problems.append(doc.problem((*section, key), f"{path} {why}"))
    if "ssl_certfile" not in options:
        for key in ("ssl_keyfile", "ssl_password"):
            if key in options:
                problems.append(doc.problem((*section, key), "has no effect without ssl_certfile (the client "
                                                            "certificate it belongs to)"))
    key_file = options.get("ssl_keyfile") or options.get("ssl_certfile")
    if isinstance(key_file, str) and "ssl_password" not in options and _encrypted_key(Path(key_file)):
        at = "ssl_keyfile" if "ssl_keyfile" in options else "ssl_certfile"
        problems.append(doc.problem((*section, at), f"{key_file} holds an encrypted private key: set ssl_password"))
    return problems


def _unreadable(path: Path) -> str | None:
    """Why the client could not read `path`, or None."""
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is not a file"
    if not os.access(path, os.R_OK):
        return "cannot be read by this user"
    return None


def _encrypted_key(path: Path) -> bool:
    """Whether the PEM file at `path` holds an encrypted private key (PKCS#8 or OpenSSL's older form)."""
    try:
        with open(path, "rb") as file:
            head = file.read(MAX_PEM_BYTES)
    except OSError:
        return False
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in head or b"Proc-Type: 4,ENCRYPTED" in head


def registry_problems(config: Config) -> list[Problem]:
    """Routes that decode registry-framed records without a `schema_registry`, a reader schema on a route that
    does not decode Avro, and `schema_registry` TLS settings that would not apply or name missing files."""
    doc = config.document
    problems = []
    for route in config.routes:
        if route.registry and config.schema_registry is None:
            problems.append(doc.problem(_origin(doc, route, "decode"),
                                        f"decode: {route.decode} reads each record's writer schema from a Schema "
                                        "Registry: add a top-level `schema_registry: {url: ...}`"))
        if route.reader_schema is not None and route.decode != "avro":
            problems.append(doc.problem((*route.path, "reader_schema"),
                                        f"a reader schema is Avro's (schema evolution); this route decodes "
                                        f"{route.decode}"))
        if route.subjects and not route.registry:
            problems.append(doc.problem((*route.path, "subject"),
                                        f"subjects are the Schema Registry's; this route decodes {route.decode}"))
    registry = config.schema_registry
    if registry is None:
        return problems
    written = doc.data.get("schema_registry", {})
    at: PathKey = ("schema_registry",)
    if "password" in written and "username" not in written:
        problems.append(doc.problem((*at, "password"), "basic auth needs a username too"))
    options = {key: getattr(registry, key) for key in (*REGISTRY_TLS_FILES, "ssl_password", "ssl_check_hostname")
               if key in written}
    if not registry.url.startswith("https://"):
        return problems + [doc.problem((*at, key), "has no effect without TLS; use an https:// url")
                           for key in options]
    return problems + tls_file_problems(doc, at, options, REGISTRY_TLS_FILES)


def _queues_on_two_redises(config: Config) -> list[Problem]:
    """A queue written to by groups with different Redis servers would be two queues: a worker reads one."""
    problems = []
    first: dict[str, RouteSpec] = {}
    for route in config.routes:
        seen = first.setdefault(route.queue, route)
        if config.redis_for(seen.group) != config.redis_for(route.group):
            problems.append(config.document.problem(
                ("groups", route.group, "redis") if any(g.id == route.group and g.redis for g in config.groups)
                else (*route.path, "queue"),
                f"queue {route.queue!r} gets jobs in the Redis of group {route.group!r} "
                f"({config.redis_for(route.group).describe()}) and in that of group {seen.group!r} "
                f"({config.redis_for(seen.group).describe()}); give the groups' routes different queues"))
    return problems
