"""After a write landed: count it (metrics, the status page's recent problems, rate-limited skip lines).

Everything here is per batch, on the consumer thread, after Redis confirmed
the write; nothing is counted for a batch that was not written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from structlog.typing import FilteringBoundLogger

from karafkad.observability import Metrics, SkipLog
from karafkad.pipeline.outcomes import PendingJob
from karafkad.runtime.backpressure import QueueGate
from karafkad.runtime.delivery import Delivered
from karafkad.runtime.enqueuer import WriteResult


class Accountant:
    """Counts one consumer thread's written batches."""

    def __init__(self, group: str, metrics: Metrics, log: FilteringBoundLogger, gate: QueueGate | None) -> None:
        self.group = group
        self.metrics = metrics
        self.log = log
        self.gate = gate
        self._skip_log = SkipLog()

    def account(self, delivered: Delivered, result: WriteResult) -> None:
        metrics, group = self.metrics, self.group
        metrics.enqueue_seconds.labels(group).observe(result.seconds)
        for duplicate in result.duplicates:
            self.log.info("job already enqueued before; not writing it again", job_id=duplicate.job_id)
        duplicates = {id(job) for job in result.duplicates}
        enqueued: Counter[tuple[str, str]] = Counter()
        for tp, batch in delivered:
            metrics.consumed.labels(group, tp.topic).inc(batch.consumed)
            repeated = batch.redelivered + self._count_jobs(batch.jobs, duplicates, enqueued)
            if repeated:
                metrics.redelivered.labels(group, tp.topic).inc(repeated)
            for letter in batch.dead_letters:
                for route_name in letter.route_names:
                    metrics.dead_lettered.labels(group, route_name, letter.kind).inc()
                metrics.recent.add("dead letter", f"{letter.kind}: {letter.reason}", route=",".join(letter.route_names),
                                   topic=tp.topic, partition=tp.partition, offset=letter.record.offset)
            for (route, reason), count in batch.skipped.items():
                metrics.skipped.labels(group, route, reason).inc(count)
            for route, offset, note in batch.skip_notes:
                metrics.recent.add("skipped", note, route=route, topic=tp.topic, partition=tp.partition,
                                   offset=offset)
                if self._skip_log.allow(route):
                    self.log.warning("message skipped", route=route, topic=tp.topic, partition=tp.partition,
                                     offset=offset, reason=note)
        for (route, queue), count in enqueued.items():
            metrics.enqueued.labels(group, route, queue).inc(count)
            if self.gate is not None:
                self.gate.note_enqueued(queue, count)
        for route, suppressed in self._skip_log.summaries():
            self.log.warning("more messages skipped", route=route, count=suppressed,
                             window_seconds=self._skip_log.window, note="see karafkad_messages_skipped_total")

    @staticmethod
    def _count_jobs(jobs: Iterable[PendingJob], duplicates: set[int],
                    enqueued: Counter[tuple[str, str]]) -> int:
        """Count the written jobs per (route, queue) into `enqueued`; the number that were duplicates."""
        repeated = 0
        for job in jobs:
            if id(job) in duplicates:
                repeated += 1
            else:
                enqueued[(job.route, job.template.queue)] += 1
        return repeated
