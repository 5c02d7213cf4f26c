"""Read a routes file into checked, typed settings (nothing is imported or compiled here).

The file is read by `yamlfile` (safe, with positions, `${VAR}` substituted),
checked against the routes-file JSON Schema (every problem at once, each
with file, line and field path, see `routes_schema`), typed into the
dataclasses of `settings` with the defaults applied, and cross-checked
(`checks`). Compiling routes (handlers, message schemas, filters) is
`karafkad.routes`' job.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from karafkad import defaults
from karafkad.config.checks import batch_warnings, cross_checks
from karafkad.config.routes_schema import routes_file_problems
from karafkad.config.schema_check import without_secrets
from karafkad.config.secrets import SECRET_KEYS, Secret, document_secrets, registry
from karafkad.config.settings import (
    KAFKA_TLS_FILES,
    REDIS_TLS_FILES,
    REGISTRY_TLS_FILES,
    BatchOptions,
    BatchSize,
    Config,
    DaemonSettings,
    GroupSpec,
    JobOptions,
    KafkaSettings,
    PluginSettings,
    RedisSettings,
    RegistrySettings,
    RouteSpec,
    SentinelSettings,
    TopicSpec,
)
from karafkad.config.web import web_settings
from karafkad.config.yamlfile import Document, PathKey, load_bytes, load_file
from karafkad.errors import ConfigError, Problem

INSTANCE_ID_VARIABLE = "KARAFKAD_INSTANCE_ID"
"""The environment variable that gives every group without an `instance_id` one (static membership);
`karafkad start --instance-id` and the systemd unit files set it."""

_INSTANCE_ID = re.compile(r"[A-Za-z0-9._-]{1,200}\Z")


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, check and type a routes file; raise ConfigError listing every problem."""
    file = Path(path)
    env = os.environ if environ is None else environ
    return _checked(file, load_file(file, env, secret_keys=SECRET_KEYS), env)


def parse_config(raw: bytes, file: Path, environ: Mapping[str, str]) -> Config:
    """`load_config` of a file's bytes (for tests and fuzzing: nothing is read from disk)."""
    return _checked(file, load_bytes(raw, str(file), environ, secret_keys=SECRET_KEYS), environ)


def _checked(file: Path, document: Document, environ: Mapping[str, str]) -> Config:
    problems = routes_file_problems(document)
    instance_id = environ.get(INSTANCE_ID_VARIABLE) or None
    if instance_id is not None and not _INSTANCE_ID.match(instance_id):
        problems.append(Problem(str(file), 0, 0, "", f"${INSTANCE_ID_VARIABLE} {instance_id[:60]!r} is not a valid "
                                "instance id: letters, digits, `.`, `_` and `-`, at most 200 characters"))
    if problems:
        raise ConfigError(problems)
    try:
        return _typed(file, document, instance_id)
    except ConfigError as exc:
        raise ConfigError(without_secrets(document, exc.problems)) from None


def kafka_settings_of(kafka: Mapping[str, Any], base: Path | None = None) -> KafkaSettings:
    """KafkaSettings from a checked `kafka` section: servers split, secrets wrapped, file paths made
    relative to `base` (the routes file's folder; None: the working directory), the rest passed through."""
    servers = kafka.get("bootstrap_servers", defaults.BOOTSTRAP_SERVERS)
    if isinstance(servers, str):
        servers = [s.strip() for s in servers.split(",") if s.strip()]
    security = {k: (Secret(v) if k in SECRET_KEYS else v)
                for k, v in _with_paths_from(base, kafka, KAFKA_TLS_FILES).items()
                if k not in ("bootstrap_servers", "client_id")}
    return KafkaSettings(tuple(servers), kafka.get("client_id", defaults.CLIENT_ID), security)


def _with_paths_from(base: Path | None, section: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """`section` with each relative path under `keys` joined to `base` (as plugin folders are): a
    daemon's working directory is rarely the routes file's folder."""
    if base is None:
        return dict(section)
    return {k: str(base / v) if k in keys and isinstance(v, str) and not Path(v).is_absolute() else v
            for k, v in section.items()}


def _typed(file: Path, document: Document, instance_id: str | None) -> Config:
    data: dict[str, Any] = document.data
    base = file.parent.absolute()
    kafka_settings = kafka_settings_of(data.get("kafka", {}), base)

    registry.remember_all(document_secrets(data))  # a password inside a redis url too
    redis_settings = _redis(base, data.get("redis", {}))

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
        options.setdefault("instance_id", instance_id)
        if "redis" in options:
            options["redis"] = _redis(base, options["redis"])
        groups.append(GroupSpec(id=group_id, routes=routes, **options))
    topics = tuple(TopicSpec(name, spec["partitions"], spec.get("replication_factor"),
                             {k: _config_value(v) for k, v in spec.get("config", {}).items()})
                   for name, spec in data.get("topics", {}).items())
    registry_section = data.get("schema_registry")
    registry_settings = registry_settings_of(registry_section, base) if registry_section is not None else None
    web, web_problems = web_settings(base, data.get("web", {}), daemon_settings, document)
    config = Config(file, kafka_settings, redis_settings, plugin_settings, daemon_settings, tuple(groups),
                    document, tuple(warnings), topics, registry_settings, web)
    problems = web_problems + cross_checks(config)
    if problems:
        raise ConfigError(problems)
    return dataclasses.replace(config, warnings=(*config.warnings, *batch_warnings(config)))


def _redis(base: Path, section: Mapping[str, Any]) -> RedisSettings:
    """RedisSettings from a checked `redis` section (the top-level one or a group's)."""
    redis = _with_paths_from(base, section, REDIS_TLS_FILES)
    for key in ("password", "ssl_password"):
        if key in redis:
            redis[key] = Secret(redis[key])
    sentinel = redis.pop("sentinel", None)
    if sentinel is not None:
        servers = sentinel["sentinels"]
        if isinstance(servers, str):
            servers = [s.strip() for s in servers.split(",") if s.strip()]
        addresses = tuple((host, int(port)) for host, _, port in (s.rpartition(":") for s in servers))
        password = sentinel.get("password")
        redis["sentinel"] = SentinelSettings(addresses, sentinel["master"], sentinel.get("username"),
                                             Secret(password) if password is not None else None)
    return RedisSettings(**redis)


def registry_settings_of(section: Mapping[str, Any], base: Path | None = None) -> RegistrySettings:
    """RegistrySettings from a checked `schema_registry` section: secrets wrapped, file paths made relative to
    `base` (the routes file's folder; None: the working directory)."""
    registry_section = _with_paths_from(base, section, REGISTRY_TLS_FILES)
    for key in ("password", "ssl_password"):
        if key in registry_section:
            registry_section[key] = Secret(registry_section[key])
    return RegistrySettings(**registry_section)


def _config_value(value: Any) -> str:
    """A topic config as Kafka keeps it: true/false in lower case, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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
    subjects = merged.get("subject", ())
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
        reader_schema=merged.get("reader_schema"),
        subjects=(subjects,) if isinstance(subjects, str) else tuple(subjects),
        tombstone=merged.get("tombstone", "skip"),
        dead_letter=dead_letter,
        on_error=on_error,
        batch=_batch(merged.get("batch", False)),
        pass_meta=merged.get("pass_meta"),
        max_age=merged.get("max_age"),
        ordering=merged.get("ordering", "none"),
        on_failure=merged.get("on_failure", "hold"),
    )



def _batch(value: bool | Mapping[str, Any]) -> BatchOptions | None:
    """A route's checked `batch`: false, true (a job per poll per partition) or a mapping (sized, the defaults
    filled in)."""
    if value is False:
        return None
    if value is True:
        return BatchOptions()
    return BatchOptions(BatchSize(value.get("max_messages", defaults.BATCH_MAX_MESSAGES),
                                  float(value.get("max_wait", defaults.BATCH_MAX_WAIT))))
