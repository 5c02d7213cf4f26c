"""The commit offsets of what a consumer thread wrote to Redis, until Kafka has committed them.

Only commit offsets of batches whose records are in Redis (or in a
dead-letter topic, or deliberately skipped) are ever recorded here, so
committing them can never run ahead of the jobs (docs/architecture.md,
"Offsets, in words"). Commits go out asynchronously, one request at a time
and at most one per COMMIT_INTERVAL, each carrying the newest ones: the
consumer thread never waits for the broker between batches. On close they
are committed synchronously; on a revoke (which runs on kafka-python's I/O
thread, where a blocking commit raises) asynchronously, at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kafka.errors import CommitFailedError, KafkaError
from structlog.typing import FilteringBoundLogger

from karafkad.clients.kafka.types import ConsumerClient, OffsetAndMetadata, Offsets, TopicPartition

COMMIT_STALE_SECONDS = 10.0
"""An asynchronous commit not answered by then no longer blocks the next one."""

COMMIT_INTERVAL = 0.5
"""Seconds between two asynchronous commits of a consumer thread. Committing after every batch (up to a
hundred a second in a backlog) cost ~0.5 µs of CPU per message, mostly on kafka-python's I/O thread
(the request, its answer and the callback: 1.7 -> 1.2 µs per message on that thread, six interleaved
100k-message runs). A crash repeats up to this much more consumption; the Redis marks keep it from
making a job twice, and a revoke or a close still commits at once."""


class OffsetBook:
    """Commit offsets of written batches not committed yet, and the commits that clear them."""

    def __init__(self, on_failure: Callable[[BaseException], None] | None = None,
                 log: FilteringBoundLogger | None = None, on_sent: Callable[[], None] | None = None, *,
                 interval: float = COMMIT_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        """`on_sent` is called for each commit request sent (the coordinator-load metric); `interval` is the
        least time between two asynchronous commits."""
        self._lock = threading.Lock()
        self._pending: dict[TopicPartition, OffsetAndMetadata] = {}
        self._in_flight_since: float | None = None
        self._sent_at: float | None = None
        self._interval = interval
        self._clock = clock
        self._on_failure = on_failure
        self._log = log
        self._on_sent = on_sent

    def record(self, commit_offsets: dict[TopicPartition, int]) -> None:
        """These partitions' commit offsets: each is written up to (not including) its own."""
        with self._lock:
            for tp, offset in commit_offsets.items():
                self._pending[tp] = OffsetAndMetadata(offset, "", -1)

    def pending(self) -> dict[TopicPartition, OffsetAndMetadata]:
        with self._lock:
            return dict(self._pending)

    def forget(self, partitions: set[TopicPartition]) -> dict[TopicPartition, OffsetAndMetadata]:
        """Stop tracking these partitions; returns what was pending for them."""
        with self._lock:
            return {tp: self._pending.pop(tp) for tp in partitions if tp in self._pending}

    def commit_async(self, consumer: ConsumerClient) -> None:
        """Send the pending offsets unless a commit is already on its way."""
        with self._lock:
            if not self._pending:
                return
            now = self._clock()
            if self._in_flight_since is not None and now - self._in_flight_since < COMMIT_STALE_SECONDS:
                return
            if self._sent_at is not None and now - self._sent_at < self._interval:
                return
            offsets = dict(self._pending)
            self._in_flight_since = self._sent_at = now
        self._count_request()
        try:
            consumer.commit_async(offsets=offsets, callback=self._answered)
        except KafkaError as exc:
            self._answered(offsets, exc)

    def _count_request(self) -> None:
        """Every commit request sent, whichever way (the coordinator-load metric counts them all)."""
        if self._on_sent is not None:
            self._on_sent()

    def _answered(self, offsets: Offsets, response: object) -> None:
        """kafka-python's callback: `response` is the broker's answer or an exception."""
        with self._lock:
            self._in_flight_since = None
            if isinstance(response, CommitFailedError):
                # The group moved on: these partitions are someone else's now, who starts
                # from the last commit; the Redis marks keep that from repeating a job.
                self._drop(offsets)
            elif isinstance(response, BaseException):
                if self._on_failure is not None:
                    self._on_failure(response)
                return  # kept: the next commit carries them again
            else:
                self._drop(offsets)
        if isinstance(response, CommitFailedError) and self._log is not None:
            self._log.warning("commit refused after a rebalance", error=str(response))

    def _drop(self, offsets: Offsets) -> None:
        for tp, offset in offsets.items():
            if self._pending.get(tp) == offset:
                del self._pending[tp]

    def commit_sync(self, consumer: ConsumerClient, timeout_ms: int = 10_000) -> None:
        """Commit what is pending and wait (on close: the last chance for these offsets)."""
        offsets = self.pending()
        if not offsets:
            return
        self._count_request()
        try:
            consumer.commit(offsets=offsets, timeout_ms=timeout_ms)
        except CommitFailedError as exc:
            self._answered(offsets, exc)
            return
        except KafkaError as exc:
            self._answered(offsets, exc)
            if self._log is not None:
                self._log.warning("commit failed", error=f"{type(exc).__name__}: {exc}")
            return
        with self._lock:
            self._drop(offsets)

    def revoked(self, consumer: ConsumerClient | None, partitions: set[TopicPartition], can_commit: bool) -> None:
        """On kafka-python's I/O thread: commit what is done for these partitions, without blocking."""
        done = self.forget(partitions)
        if done and can_commit and consumer is not None:
            self._count_request()
            try:
                consumer.commit_async(offsets=done)
            except Exception as exc:  # the marks in Redis keep a redelivery from becoming a second job
                if self._log is not None:
                    self._log.warning("commit on revoke failed", error=str(exc))
