"""Compile checked settings into a frozen RouteTable: handlers found, schemas and filters compiled.

A RouteTable is built completely or not at all: every problem with every
route is collected (with file, line and field) and raised together, so a
reload either swaps in a table that works or keeps the old one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rq

from karafkad.config.loading import load_config
from karafkad.config.settings import Config, GroupSpec, RouteSpec
from karafkad.errors import ConfigError, DecodeError, ExpressionError, PluginError, Problem, SchemaError
from karafkad.routes.decoding import decoder_for
from karafkad.routes.filter_compiler import compile_filter
from karafkad.routes.filter_runtime import FilterFunction
from karafkad.routes.filter_types import mismatches
from karafkad.routes.jobs import SUPPORTED_RQ, JobTemplate, build_template, job_id_prefix
from karafkad.routes.plugins import PluginLoader, Resolved, accepts_two
from karafkad.routes.schemas import Validate, compile_schema, load_schema

if TYPE_CHECKING:
    from karafkad.clients.registry.store import SchemaStore


@dataclass(frozen=True, eq=False)
class Route:
    """One compiled route: what to check, and which job to make."""

    spec: RouteSpec
    handler: Resolved
    pass_meta: bool
    template: JobTemplate
    decode: Callable[[bytes], Any]
    validate: Validate | None = None
    filter: FilterFunction | None = None
    """filter(params, key, headers, topic, partition, offset, timestamp) -> bool; raises FilterRuntimeError."""
    filter_reads: frozenset[str] = frozenset()
    """The names the filter reads (see routes/filter_runtime.NAMES)."""
    hooks: tuple[tuple[Resolved, bool], ...] = ()
    """(hook, whether it takes meta) pairs."""
    schema_document: Any = None
    id_prefixes: Mapping[str, str] = field(default_factory=dict)
    """topic -> job id prefix."""

    @property
    def name(self) -> str:
        return self.spec.name

    # Computed once, read per message:
    needs_meta: bool = field(init=False)
    """The handler or a hook takes the message metadata."""
    params_as_text: bool = field(init=False)
    """The job's params are the message's JSON text as it came (JobTemplate.encode_json_text): a JSON route
    with a JSON serializer and no before_enqueue hook (a hook may change the params)."""
    timed: bool = field(init=False)
    """Its jobs have a due time (`job.delay` or `job.at`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "needs_meta", self.pass_meta or any(takes_meta for _, takes_meta in self.hooks))
        object.__setattr__(self, "params_as_text", self.spec.decode == "json" and self.spec.job.serializer == "json"
                           and not self.hooks)
        object.__setattr__(self, "timed", bool(self.spec.job.delay or self.spec.job.at))


@dataclass(frozen=True, eq=False)
class GroupRoutes:
    """The routes of one consumer group, by topic."""

    spec: GroupSpec
    routes: tuple[Route, ...]
    by_topic: Mapping[str, tuple[Route, ...]]
    schemas: SchemaStore | None = None
    """The Schema Registry's schemas, when a route decodes registry-framed records (fetched before deciding)."""
    registry_topics: frozenset[str] = frozenset()
    """The topics some route of the group decodes with the registry's schemas."""

    @property
    def id(self) -> str:
        return self.spec.id

    def consumer_settings(self) -> tuple[Any, ...]:
        """What the group's Kafka consumers depend on; a reload restarts the group only when it changes."""
        s = self.spec
        return (s.topics, s.threads, s.auto_offset_reset, s.session_timeout_ms, s.heartbeat_interval_ms,
                s.max_poll_records, s.max_poll_interval_ms, s.instance_id, s.isolation_level,
                s.assignment_strategy, s.redis)


@dataclass(frozen=True, eq=False)
class RouteTable:
    config: Config
    groups: Mapping[str, GroupRoutes]
    loader: PluginLoader
    schemas: SchemaStore | None = None
    """The Schema Registry's schemas by id, shared by every group (None: no route decodes with them)."""

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(r for g in self.groups.values() for r in g.routes)

    def queues(self) -> tuple[str, ...]:
        return tuple(sorted({r.template.queue for r in self.routes}))

    def dead_letter_topics(self) -> tuple[str, ...]:
        return tuple(sorted({r.spec.dead_letter for r in self.routes if r.spec.dead_letter}))


def load_routes(path: str | Path, environ: Mapping[str, str] | None = None,
                loader: PluginLoader | None = None, schemas: SchemaStore | None = None) -> RouteTable:
    """Read, check and compile a routes file; ConfigError lists every problem. `schemas`: the registry's schemas
    fetched so far (a reload keeps them: a schema id never changes), else a new store when a route needs one."""
    config = load_config(path, os.environ if environ is None else environ)
    return build_route_table(config, loader, schemas)


def build_route_table(config: Config, loader: PluginLoader | None = None,
                      schemas: SchemaStore | None = None) -> RouteTable:
    loader = loader or PluginLoader(config.plugins.paths, config.plugins.packages)
    if schemas is None and config.schema_registry is not None and any(r.registry for r in config.routes):
        # Deferred, as the registry decoders below: only registry routes need its HTTP client (urllib, ssl), and
        # `karafkad check` of a file without them must stay quick (the broken-routes corpus test times it).
        from karafkad.clients.registry.api import RegistryClient
        from karafkad.clients.registry.store import SchemaStore

        schemas = SchemaStore(RegistryClient(config.schema_registry))
    problems: list[Problem] = []
    groups = {}
    for group in config.groups:
        routes = []
        for spec in group.routes:
            route = _compile_route(config, spec, loader, problems, schemas)
            if route is not None:
                routes.append(route)
        by_topic: dict[str, list[Route]] = {}
        for route in routes:
            for topic in route.spec.topics:
                by_topic.setdefault(topic, []).append(route)
        registry_topics = frozenset(t for r in routes if r.spec.registry for t in r.spec.topics)
        groups[group.id] = GroupRoutes(group, tuple(routes), {t: tuple(rs) for t, rs in by_topic.items()},
                                       schemas if registry_topics else None, registry_topics)
    if problems:
        raise ConfigError(problems)
    return RouteTable(config, groups, loader, schemas)


def _compile_route(config: Config, spec: RouteSpec, loader: PluginLoader, problems: list[Problem],
                   schemas: SchemaStore | None) -> Route | None:
    doc = config.document
    count = len(problems)
    decode = _decoder(config, spec, schemas, problems)

    handler = None
    try:
        handler = loader.resolve(spec.handler)
    except PluginError as exc:
        problems.append(doc.problem((*spec.path, "handler"), str(exc)))

    hooks = []
    for i, hook_path in enumerate(spec.before_enqueue):
        at = (*spec.path, "before_enqueue") + ((i,) if len(spec.before_enqueue) > 1 else ())
        try:
            hook = loader.resolve(hook_path)
            hooks.append((hook, hook.accepts_meta))
        except PluginError as exc:
            problems.append(doc.problem(at, str(exc)))

    validate = None
    schema_document = None
    if spec.schema is not None:
        try:
            schema_document, origin = load_schema(spec.schema, config.base_dir)
            validate = compile_schema(schema_document, origin)
        except SchemaError as exc:
            problems.append(doc.problem((*spec.path, "schema"), str(exc)))

    compiled_filter = None
    if spec.filter is not None:
        try:
            compiled_filter = compile_filter(spec.filter)
        except ExpressionError as exc:
            problems.append(_filter_problem(config, spec, exc))
        else:
            for column, message in mismatches(compiled_filter.orderings, schema_document):
                problems.append(_filter_problem(config, spec, ExpressionError(message, column)))

    if handler is not None and spec.pass_meta and not accepts_two(handler.function):
        problems.append(doc.problem((*spec.path, "pass_meta"),
                                    f"pass_meta is true but {spec.handler} takes one argument; give it a second "
                                    "parameter (meta)"))

    template = None
    try:
        template = build_template(spec.queue, spec.handler, spec.job, ordered=spec.ordered,
                                  allow_failure=spec.on_failure == "skip")
    except (ValueError, TypeError) as exc:
        problems.append(doc.problem((*spec.path, "job"), f"RQ refuses these job options: {exc}"))
    if template is not None and template.rq_job is not None and spec.ordered:
        # Ordered jobs are written as RQ's dependencies in the enqueuer's script, in the hash shape of the RQ
        # versions tests/integration/test_rq_contract.py compared; another RQ may keep dependencies otherwise.
        problems.append(doc.problem((*spec.path, "ordering"),
                                    f"ordering needs RQ {'.'.join(map(str, SUPPORTED_RQ[0]))}.x (installed: "
                                    f"{rq.__version__}); install that RQ or drop `ordering`"))

    if len(problems) > count or handler is None or template is None or decode is None:
        return None
    pass_meta = handler.accepts_meta if spec.pass_meta is None else spec.pass_meta
    prefixes = {topic: job_id_prefix(spec.group, topic, spec.name) for topic in spec.topics}
    return Route(
        spec=spec,
        handler=handler,
        pass_meta=pass_meta,
        template=template,
        decode=decode,
        validate=validate,
        filter=compiled_filter.function if compiled_filter else None,
        filter_reads=compiled_filter.reads if compiled_filter else frozenset(),
        hooks=tuple(hooks),
        schema_document=schema_document,
        id_prefixes=prefixes,
    )


def _decoder(config: Config, spec: RouteSpec, schemas: SchemaStore | None,
             problems: list[Problem]) -> Callable[[bytes], Any] | None:
    """The route's decoder; None (with the problem noted) when its mode cannot run here."""
    if not spec.registry:
        return decoder_for(spec.decode, spec.job.serializer)
    from karafkad.clients.registry import extras
    from karafkad.clients.registry.avro import reader_schema
    from karafkad.routes.registry_decoding import registry_decoder

    why = extras.missing(spec.decode)
    if why is not None:
        problems.append(config.document.problem((*spec.path, "decode"), why))
        return None
    if schemas is None:  # no schema_registry section: config/checks.py said so
        return None
    reader = None
    if spec.reader_schema is not None:
        try:
            document, _ = load_schema(spec.reader_schema, config.base_dir)
            reader = reader_schema(document)
        except (SchemaError, DecodeError) as exc:
            problems.append(config.document.problem((*spec.path, "reader_schema"), str(exc)))
            return None
    return registry_decoder(spec.decode, schemas, reader)


def _filter_problem(config: Config, spec: RouteSpec, exc: ExpressionError) -> Problem:
    """The filter's complaint at the file position of the offending character, with a caret under it."""
    at = (*spec.path, "filter")
    text = " ".join((spec.filter or "").splitlines())
    if not exc.column:
        return config.document.problem(at, exc.message)
    message = f"{exc.message} (column {exc.column} of the expression)"
    if len(text) <= 200:
        message += f"\n    {text}\n    {' ' * (exc.column - 1)}^"
    return config.document.problem_in_value(at, exc.column, message)
