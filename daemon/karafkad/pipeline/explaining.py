"""What every route of a message's topic does with it, as the daemon's own pipeline decides it, step by step.

One copy for `karafkad explain` and the console's explorer: each group that
consumes the topic runs the real Pipeline over the message with a trace
(trace.py), and the trace, jobs, dead letters and skips are sorted out route
by route. Nothing here reads Kafka or Redis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from karafkad.clients.kafka.types import Record
from karafkad.pipeline.outcomes import DeadLetter, PendingJob
from karafkad.pipeline.steps import Pipeline
from karafkad.pipeline.trace import Trace, TraceStep
from karafkad.routes.registry_decoding import schema_ids
from karafkad.routes.table import GroupRoutes, Route, RouteTable


@dataclass
class RouteExplanation:
    """One route's steps on the message, and what it made of it."""

    route: Route
    steps: list[TraceStep] = field(default_factory=list)
    jobs: list[PendingJob] = field(default_factory=list)
    dead_letter: DeadLetter | None = None
    skipped: list[str] = field(default_factory=list)
    """Why it made no job (`filtered`, `tombstone`, ...), when it deliberately made none."""

    @property
    def outcome(self) -> str:
        """`enqueue`, `dead letter`, `skip`, or `none` (a batch route's job waits for its batch)."""
        if self.jobs:
            return "enqueue"
        if self.dead_letter is not None:
            return "dead letter"
        return "skip" if self.skipped else "none"


@dataclass
class GroupExplanation:
    """A group's routes of the topic, in the routes file's order."""

    group: GroupRoutes
    routes: list[RouteExplanation]


def explain(table: RouteTable, record: Record) -> list[GroupExplanation]:
    """Each group that consumes the record's topic, and what each of its routes of the topic does with it.

    A registry route's writer schema is fetched first (RegistryUnavailable when the registry cannot answer)."""
    out = []
    for group in table.groups.values():
        routes = group.by_topic.get(record.topic)
        if not routes:
            continue
        if group.schemas is not None and record.topic in group.registry_topics:
            group.schemas.fetch(schema_ids([record]))  # as the daemon does before deciding a batch
        trace: Trace = []
        batch = Pipeline(group, table.config.daemon.max_message_bytes).process(
            record.topic, record.partition, [record], trace=trace)
        by_name = {route.name: RouteExplanation(route) for route in routes}
        for step in trace:
            if step.route in by_name:
                by_name[step.route].steps.append(step)
        for job in batch.jobs:
            by_name[job.route].jobs.append(job)
        for letter in batch.dead_letters:
            for name in letter.route_names:
                by_name[name].dead_letter = letter
        for (name, reason), _ in batch.skipped.items():
            by_name[name].skipped.append(reason)
        out.append(GroupExplanation(group, list(by_name.values())))
    return out
