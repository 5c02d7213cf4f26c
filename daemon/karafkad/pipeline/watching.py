"""What became of a sampled message, read off its batch once the pipeline has decided it (for its spans).

Tracing a message must cost the others nothing, so the steps (pipeline/steps.py) are not told about it: before
a message whose trace context is sampled, the pipeline notes where its batch stands (`Watched`), and once the
message is decided, reads what each route made of it from what the batch gained meanwhile: jobs, records
gathered for a batch route, dead letters, counted skips. One message's outcomes are one route each (the steps
give every route exactly one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from karafkad.clients.kafka.types import Record
from karafkad.pipeline.outcomes import PartitionBatch, PendingJob, SkipReason
from karafkad.routes.table import Route
from karafkad.tracing.context import TraceContext
from karafkad.tracing.messages import RouteOutcome

Gathered = Mapping[Route, Sequence[Any]]
"""The records a batch route has gathered so far in `Pipeline.process` (route -> its items)."""


@dataclass(slots=True)
class Watched:
    """A sampled message as the pipeline starts on it: where its batch stood then."""

    record: Record
    context: TraceContext
    started_ns: int
    """When the pipeline started on it, in nanoseconds since the epoch (its spans start then)."""
    jobs: int
    gathered: dict[Route, int]
    dead_letters: int
    skipped: Counter[tuple[str, SkipReason]]
    notes: int

    @classmethod
    def before(cls, record: Record, context: TraceContext, started_ns: int, batch: PartitionBatch,
               gathered: Gathered) -> Watched:
        return cls(record, context, started_ns, len(batch.jobs),
                   {route: len(items) for route, items in gathered.items()}, len(batch.dead_letters),
                   Counter(batch.skipped), len(batch.skip_notes))

    def outcomes(self, batch: PartitionBatch, routes: Sequence[Route],
                 gathered: Gathered) -> list[tuple[RouteOutcome, list[PendingJob]]]:
        """Each route's outcome for the message, with the jobs it made (in the order of `routes`)."""
        new_jobs = batch.jobs[self.jobs:]
        new_letters = batch.dead_letters[self.dead_letters:]
        notes = {route: note for route, _, note in batch.skip_notes[self.notes:]}
        out = []
        for route in routes:
            name = route.spec.name
            jobs = [job for job in new_jobs if job.route == name]
            if jobs or len(gathered.get(route, ())) > self.gathered.get(route, 0):
                out.append((RouteOutcome(name, "enqueue", "", route.template.queue,
                                         tuple(job.job_id for job in jobs)), jobs))
                continue
            letter = next((letter for letter in new_letters if name in letter.route_names), None)
            if letter is not None:
                out.append((RouteOutcome(name, "reject", f"{letter.kind}: {letter.reason}"), []))
                continue
            reason = next((reason for (route_name, reason), count in batch.skipped.items()
                           if route_name == name and count > self.skipped[(route_name, reason)]), None)
            if reason is not None:
                # An `on_error: skip` route's skip says why, as its dead letter would have.
                note = notes.get(name)
                out.append((RouteOutcome(name, "skip", reason if note is None else f"error:{note}"), []))
        return out
