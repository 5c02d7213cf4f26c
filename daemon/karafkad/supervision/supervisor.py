"""The daemon's lifecycle: start the groups, reload, drain, stop (main_loop.py calls these on signals).

States: starting -> running -> draining -> stopped. Everything here runs in
the main thread; consumer threads only watch their group's stop event and
drain deadline. A reload builds a new RouteTable first and swaps it in only
if it compiled; groups whose consumer settings are unchanged keep their
members (their threads pick up the new routes between batches), others are
restarted, added or removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import redis
from redis import Redis

from karafkad import defaults
from karafkad.clients.kafka import codecs
from karafkad.clients.kafka.consumers import make_consumer
from karafkad.config.loading import INSTANCE_ID_VARIABLE
from karafkad.config.settings import Config, RedisSettings
from karafkad.consuming.dead_letter_sender import DeadLetterSender
from karafkad.consuming.operator_pauses import OperatorPauses
from karafkad.consuming.services import ConsumerFactory, Services
from karafkad.errors import ConfigError
from karafkad.observability import Metrics, get_logger
from karafkad.routes.table import Route, RouteTable, load_routes
from karafkad.store import pauses
from karafkad.supervision.groups import GroupRunner
from karafkad.supervision.held_watch import HeldWatch, Source
from karafkad.supervision.maintenance import PAUSES_INTERVAL, Maintenance
from karafkad.supervision.redises import Redises, RedisLink
from karafkad.supervision.status import GroupStatus, InstanceStatus, PauseStatus, RouteStatus, StatusSnapshot
from karafkad.tracing.messages import MessageTracer

log = get_logger(__name__)


Vet = Callable[[Path, RouteTable, Callable[[], None] | None], list[str]]
"""Further checks of a routes file's compiled table: one line per problem, none when it may run.

Given by the caller (the route tests, from karafkad.testing, which this
layer does not import), so that a reload refuses what `karafkad start` and
`karafkad check` refuse. The third argument is to be called between checks
(the watchdog ping: route tests run hooks, which may take their time). A vet
must not raise: the reload keeps the running routes only if it returns."""


def instance_name(environ: Mapping[str, str] | None = None) -> str:
    """What the deployment's consoles call this daemon: its instance id ($KARAFKAD_INSTANCE_ID, which
    `--instance-id` and the unit files set), else `host-pid`."""
    env = os.environ if environ is None else environ
    return env.get(INSTANCE_ID_VARIABLE) or f"{socket.gethostname()}-{os.getpid()}"


class State(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    DRAINING = "draining"
    STOPPED = "stopped"


class Supervisor:
    """Owns the route table, the shared clients and the group runners."""

    def __init__(self, table: RouteTable, *, environ: Mapping[str, str] | None = None,
                 metrics: Metrics | None = None, consumer_factory: ConsumerFactory = make_consumer,
                 redis_client: Redis[bytes] | None = None, vet: Vet | None = None,
                 tracer: MessageTracer | None = None) -> None:
        """`tracer` makes the spans of messages whose trace context is sampled (None: tracing is off)."""
        self.table = table
        self.environ = environ
        self.vet = vet
        """What else a reload's compiled table must pass (cli.start gives the route tests beside the file)."""
        self.metrics = metrics or Metrics()
        self.state = State.STARTING
        config = table.config
        self.redises = Redises(config, redis_client)
        self.redis = self.redises.default.client
        """The top-level Redis (operator events, the status page's default)."""
        self.dead_letters = DeadLetterSender(config.kafka)
        self.pauses = OperatorPauses()
        """The operators' pauses the consumer threads obey (read by the maintenance thread)."""
        self.pause_list: list[pauses.Pause] = []
        """The same, as last read (who paused what, for the status)."""
        self.services = Services(config.kafka, config.daemon, self.redises.default.enqueuer, self.dead_letters,
                                 self.metrics, consumer_factory, self.redises.default.gate,
                                 marks=self.redises.default.marks, tracer=tracer, pauses=self.pauses)
        self.runners: dict[str, GroupRunner] = {}
        self.maintenance = Maintenance(self.redises.links)
        self.maintenance.add("operator pauses", PAUSES_INTERVAL, self.read_pauses)
        self.started_at = time.time()
        self.instance: InstanceStatus = {"name": instance_name(environ), "host": socket.gethostname(),
                                         "pid": os.getpid()}
        self.held = HeldWatch(self.held_sources, self.metrics)
        """The held keys of the ordered routes, looked at on a thread of its own (the metric, the status page)."""

    # --- start and readiness ------------------------------------------------

    def start(self) -> None:
        self.check_redis()
        with contextlib.suppress(redis.RedisError):  # unread, the maintenance thread reads them in a moment
            self.read_pauses()  # before any consumer polls: a pause outlives a restart
        missing = codecs.missing()
        if missing:
            log.warning("kafka-python cannot read some compression codecs here; a batch in one of them will hold "
                        "its partition", missing=missing)
        for group_id, routes in self.table.groups.items():
            runner = GroupRunner(routes, self.services_for(group_id))
            self.runners[group_id] = runner
            runner.start()
        self.maintenance.start()
        self.held.start()
        log.info("started", groups=list(self.runners), routes=len(self.table.routes),
                 redis=", ".join(link.settings.describe() for link in self.redises.links()),
                 kafka=",".join(self.table.config.kafka.bootstrap_servers))

    def read_pauses(self) -> None:
        """Read the operators' pauses for the consumer threads (a maintenance chore); raises what redis-py raises
        (the threads keep obeying the pauses read last)."""
        found = pauses.paused(self.redis)
        self.pause_list = found
        if self.pauses.update(p.target for p in found):
            log.info("operator pauses", paused=[f"{p.target.describe()} by {p.who}" for p in found])

    def check_redis(self) -> None:
        """Warn (or refuse, with redis.require_durable) when a Redis could lose jobs."""
        for link in self.redises.links():
            link.check_durable()

    def redis_reachable(self) -> bool:
        """Whether every Redis answers a PING (each asked at most once a second)."""
        return self.redises.reachable()

    def queue_lengths(self, queues: Sequence[str]) -> dict[str, int]:
        """Jobs waiting in each RQ queue, from the Redis it lives on (the status page's)."""
        return self.redises.queue_lengths(self.table.config, queues)

    def held_sources(self) -> list[Source]:
        """The ordered routes of the current table, by the Redis their jobs are on (the held keys' watch reads it)."""
        table = self.table
        found: dict[RedisSettings, tuple[RedisLink, list[Route]]] = {}
        for route in table.routes:
            if route.spec.ordered:
                link = self.redises.for_group(table.config, route.spec.group)
                found.setdefault(link.settings, (link, []))[1].append(route)
        return [(link.client, link.settings, routes) for link, routes in found.values()]

    def services_for(self, group: str) -> Services:
        """What a group's threads write to: the shared services, with the group's own Redis."""
        link = self.redises.for_group(self.table.config, group)
        return dataclasses.replace(self.services, enqueuer=link.enqueuer, marks=link.marks, queue_gate=link.gate)

    def ready(self) -> bool:
        """Every consumer thread has joined its group, Redis answers, and so does the schema registry when a batch
        needed it."""
        return self.not_ready_reason() is None

    def not_ready_reason(self) -> str | None:
        """Why the daemon is not ready (/ready says it), or None when it is."""
        if self.state is not State.RUNNING or not self.runners:
            return f"{self.state.value}"
        if not all(r.joined() for r in self.runners.values()):
            return "a consumer group has not been joined yet"
        if not self.redis_reachable():
            return "Redis does not answer"
        schemas = self.table.schemas
        if schemas is not None and schemas.outage is not None:
            return f"consuming is paused: {schemas.outage}"
        return None

    def healthy(self) -> bool:
        """No consumer thread has died (they restart their clients themselves) or is stuck."""
        return (all(t.is_alive() for r in self.runners.values() for t in r.threads)
                and not self.stalled(defaults.STALL_SECONDS))

    def fatal(self) -> list[str]:
        """Why consumer threads stopped for good (an instance id another process took), if any did."""
        return [t.fatal for r in self.runners.values() for t in r.threads if t.fatal]

    def stalled(self, limit: float) -> list[str]:
        """The live consumer threads whose loop has not come round for `limit` seconds."""
        now = time.monotonic()
        return [t.name for r in self.runners.values() for t in r.threads
                if t.is_alive() and now - t.progressed_at > limit]

    # --- reload -------------------------------------------------------------

    def reload(self, routes_file: Path, tick: Callable[[], None] | None = None) -> bool:
        """Apply routes_file if it compiles and passes `vet` (its route tests); keep the current routes
        (and say why) if not.

        `tick` is called while restarted groups drain (the main loop's watchdog ping).
        """
        loader = self.table.loader
        dropped = loader.forget()
        try:
            # The registry's schemas stay fetched: a schema id never changes (schema_registry applies on restart).
            new = load_routes(routes_file, self.environ, schemas=self.table.schemas)
        except ConfigError as exc:
            return self._reject([str(p) for p in exc.problems], dropped)
        if tick is not None:
            tick()
        problems = self.vet(routes_file, new, tick) if self.vet is not None else []
        if problems:
            new.loader.forget()  # the rejected file's plugin modules: the running routes' go back in
            return self._reject(problems, dropped)
        old_config, new_config = self.table.config, new.config
        _warn_restart_only(old_config, new_config)
        deadline = time.monotonic() + old_config.daemon.shutdown_timeout
        restarted, swapped, added, removed = [], [], [], []
        for group_id in list(self.runners):
            if group_id not in new.groups:
                self.runners.pop(group_id).begin_stop(deadline)
                removed.append(group_id)
        stopping = []
        for group_id, routes in new.groups.items():
            runner = self.runners.get(group_id)
            if runner is None:
                added.append(group_id)
            elif runner.routes.consumer_settings() == routes.consumer_settings():
                runner.routes = routes  # threads switch between batches
                swapped.append(group_id)
                continue
            else:
                runner.begin_stop(deadline)
                stopping.append(runner)
                restarted.append(group_id)
        for runner in stopping:
            runner.join(deadline, tick)
        self.table = new
        self.redises.update_queues(new.config)
        for group_id in (*added, *restarted):
            runner = GroupRunner(new.groups[group_id], self.services_for(group_id))
            self.runners[group_id] = runner
            runner.start()
        self.metrics.reloads.labels("applied").inc()
        log.info("reload applied", swapped=swapped, restarted=restarted, added=added, removed=removed)
        return True

    def _reject(self, problems: list[str], dropped: dict[str, ModuleType]) -> bool:
        """Keep the current routes (and their plugin modules), and say why the new file was refused."""
        self.table.loader.restore(dropped)
        self.metrics.reloads.labels("rejected").inc()
        log.error("reload rejected; keeping the current routes", problems=problems)
        self.metrics.recent.add("reload", f"rejected: {problems[0]}")
        return False

    # --- drain --------------------------------------------------------------

    def begin_drain(self, timeout: float) -> float:
        self.state = State.DRAINING
        deadline = time.monotonic() + timeout
        for runner in self.runners.values():
            runner.begin_stop(deadline)
        return deadline

    def drained(self) -> bool:
        return not any(t.is_alive() for r in self.runners.values() for t in r.threads)

    def abandoned(self) -> bool:
        """A thread gave up a batch it could not write before the drain deadline."""
        return any(t.abandoned for r in self.runners.values() for t in r.threads)

    def close(self) -> None:
        self.state = State.STOPPED
        self.maintenance.stop()
        self.held.stop()
        self.dead_letters.close()
        self.redises.close()

    def status(self) -> StatusSnapshot:
        """A snapshot for `karafkad status`, /status.json and the status page (no secrets)."""
        groups: dict[str, GroupStatus] = {}
        for group_id, runner in list(self.runners.items()):  # reload() may change runners meanwhile
            groups[group_id] = {
                "threads": [{"name": t.name, "index": t.index, "alive": t.is_alive(), "joined": t.joined.is_set(),
                             "partitions": sorted(f"{tp.topic}[{tp.partition}]" for tp in t.assignment),
                             "instance_id": t.instance_id,
                             "held": [{"partition": f"{tp.topic}[{tp.partition}]", "offset": bad.offset,
                                       "error": bad.error} for tp, bad in sorted(t.held.items())],
                             "waiting": t.waiting, "paused": t.paused_all,
                             "operator_paused": sorted(f"{tp.topic}[{tp.partition}]" for tp in t.operator_paused)}
                            for t in runner.threads],
                "routes": [r.name for r in runner.routes.routes],
                "redis": self.table.config.redis_for(group_id).describe(),
            }
        table = self.table  # one table for the whole snapshot, even if a reload swaps it meanwhile
        routes: list[RouteStatus] = [
            {"group": r.spec.group, "name": r.name, "topics": list(r.spec.topics), "queue": r.template.queue,
             "filter": r.spec.filter, "dead_letter": r.spec.dead_letter, "on_error": r.spec.on_error,
             "ordering": r.spec.ordering, "on_failure": r.spec.on_failure}
            for r in table.routes]
        paused: list[PauseStatus] = [
            {"group": p.target.group, "route": p.target.route, "topic": p.target.topic,
             "partition": p.target.partition, "who": p.who, "at": p.at} for p in self.pause_list]
        return {"state": self.state.value, "ready": self.ready(), "started_at": self.started_at,
                "routes_file": str(table.config.file), "groups": groups, "routes": routes,
                "redis": table.config.redis.describe(),
                "kafka": table.config.kafka.describe(), "instance": self.instance, "pauses": paused,
                "held_keys": self.held.status(),
                "schema_registry": None if table.schemas is None else {
                    "url": table.schemas.describe(), "outage": table.schemas.outage,
                    "requests": table.schemas.requests}}


RESTART_ONLY = ("kafka", "redis", "daemon", "schema_registry", "web")
"""The sections of a routes file a reload does not apply (the clients and the main loop are built from them)."""


def _warn_restart_only(old: Config, new: Config) -> None:
    """A warning for each RESTART_ONLY section a reload changed, naming its changed keys (never their values)."""
    for section in RESTART_ONLY:
        before, after = getattr(old, section), getattr(new, section)
        if before != after:
            log.warning("reload: this section changed but applies only on restart", section=section,
                        keys=_changed_keys(before, after))


def _changed_keys(before: Any, after: Any) -> list[str]:
    """The keys of a settings section whose values differ; a mapping field (kafka's TLS and SASL options)
    by its own keys, as the routes file writes them."""
    if before is None or after is None:  # an optional section (schema_registry) added or removed
        return ["(the whole section)"]
    changed = []
    for item in dataclasses.fields(before):
        old, new = getattr(before, item.name), getattr(after, item.name)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            changed += sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        elif old != new:
            changed.append(item.name)
    return changed
