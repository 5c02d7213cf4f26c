"""After a write landed: count it (metrics, the status page's recent problems, rate-limited skip lines).

Everything here is per batch, on the consumer thread, after Redis confirmed
the write; nothing is counted for a batch that was not written.
"""

from __future__ import annotations

from collections import Counter
from operator import attrgetter
from typing import Any

from structlog.typing import FilteringBoundLogger

from karafkad.consuming.backpressure import QueueGate
from karafkad.consuming.delivery import Delivered
from karafkad.observability import Metrics, SkipLog
from karafkad.pipeline.outcomes import JobNaming
from karafkad.store.enqueuer import WriteResult


class Accountant:
    """Counts one consumer thread's written batches."""

    def __init__(self, group: str, metrics: Metrics, log: FilteringBoundLogger, gate: QueueGate | None) -> None:
        self.group = group
        self.metrics = metrics
        self.log = log
        self.gate = gate
        self._skip_log = SkipLog()

    def account(self, delivered: Delivered, result: WriteResult) -> None:
        """Everything per batch: each metric is touched once per label set, not once per message (a
        Prometheus child lookup and increment cost 1.1 µs, timeit), and only the problems the status page
        still shows are added to its list, under one lock (0.6 µs an item one by one)."""
        metrics, group = self.metrics, self.group
        metrics.enqueue_seconds.labels(group).observe(result.seconds)
        for duplicate in result.duplicates:
            self.log.info("job already enqueued before; not writing it again", job_id=duplicate.job_id)
        duplicates = {id(job) for job in result.duplicates}
        enqueued: Counter[JobNaming] = Counter()
        dead_lettered: Counter[tuple[str, str]] = Counter()
        problems: list[tuple[str, str, dict[str, Any]]] = []
        for tp, batch in delivered:
            metrics.consumed.labels(group, tp.topic).inc(batch.consumed)
            jobs = batch.jobs
            written = [job for job in jobs if id(job) not in duplicates] if duplicates else jobs
            enqueued.update(map(_NAMING, written))
            repeated = batch.redelivered + len(jobs) - len(written)
            if repeated:
                metrics.redelivered.labels(group, tp.topic).inc(repeated)
            for letter in batch.dead_letters:
                for route_name in letter.route_names:
                    dead_lettered[(route_name, letter.kind)] += 1
            for letter in batch.dead_letters[-metrics.recent.capacity:]:
                problems.append(("dead letter", f"{letter.kind}: {letter.reason}",
                                 {"route": ",".join(letter.route_names), "topic": tp.topic,
                                  "partition": tp.partition, "offset": letter.record.offset}))
            for (route, reason), count in batch.skipped.items():
                metrics.skipped.labels(group, route, reason).inc(count)
            for route, offset, note in batch.skip_notes[-metrics.recent.capacity:]:
                problems.append(("skipped", note, {"route": route, "topic": tp.topic, "partition": tp.partition,
                                                   "offset": offset}))
            self._log_skips(tp.topic, tp.partition, batch.skip_notes)
        for (route, kind), count in dead_lettered.items():
            metrics.dead_lettered.labels(group, route, kind).inc(count)
        metrics.recent.extend(problems)
        by_queue: Counter[tuple[str, str]] = Counter()
        for naming, count in enqueued.items():
            by_queue[(naming.route, naming.template.queue)] += count
        for (route, queue), count in by_queue.items():
            metrics.enqueued.labels(group, route, queue).inc(count)
            if self.gate is not None:
                self.gate.note_enqueued(queue, count)
        for route, suppressed in self._skip_log.summaries():
            self.log.warning("more messages skipped", route=route, count=suppressed,
                             window_seconds=self._skip_log.window, note="see karafkad_messages_skipped_total")

    def _log_skips(self, topic: str, partition: int, notes: list[tuple[str, int, str]]) -> None:
        """A line per skip caused by bad input, as the rate limit allows; the rest are only counted."""
        for route, offset, note in notes:
            if self._skip_log.allow(route):
                self.log.warning("message skipped", route=route, topic=topic, partition=partition, offset=offset,
                                 reason=note)


_NAMING = attrgetter("naming")
