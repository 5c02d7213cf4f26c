"""One consumer thread: a member of its consumer group, which outlives the Kafka consumers it makes.

Each thread is its own member of its consumer group (its own Kafka
consumer), and runs that consumer's poll loop (poll_loop.py). What must
outlive one consumer is kept here: the commit offsets not committed yet
(offsets.py), the partitions and their rebalances (membership.py), the
marks read from Redis (marks_cache.py), the drain deadline, and whether a
batch was ever given up at it. A consumer that breaks is closed and
replaced with backoff; a static member whose instance id another process
took stops, and says so: the member never just dies, and never fights
another for its partitions. The status page asks the thread; the thread
asks its current poll loop what is held and why it waits (pausing.py owns
both).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from kafka.errors import FencedInstanceIdError

from karafkad import defaults
from karafkad.clients.kafka import failures
from karafkad.clients.kafka.consumers import instance_id
from karafkad.clients.kafka.types import ConsumerClient, TopicPartition
from karafkad.clients.kafka.workarounds.fencing import fencing
from karafkad.clients.kafka.workarounds.fetch_state import BadBatch
from karafkad.config.settings import GroupSpec
from karafkad.consuming.marks_cache import Marks
from karafkad.consuming.membership import Membership
from karafkad.consuming.offsets import OffsetBook
from karafkad.consuming.poll_loop import PollLoop
from karafkad.consuming.services import Services
from karafkad.observability import get_logger
from karafkad.pipeline.steps import Pipeline
from karafkad.routes.table import GroupRoutes

log = get_logger(__name__)


class Fenced(Exception):
    """Another process joined the group with this member's static instance id."""


class ConsumerThread(threading.Thread):
    """One member of one consumer group; replaces its Kafka client when it breaks."""

    def __init__(self, group: GroupSpec, index: int, get_routes: Callable[[], GroupRoutes], services: Services,
                 stop: threading.Event) -> None:
        super().__init__(name=f"consumer-{group.id}-{index}", daemon=True)
        self.group = group
        self.index = index
        self.get_routes = get_routes
        self.services = services
        self.stop_event = stop
        self.drain_deadline: float | None = None
        """Monotonic time after which a batch that cannot be written is given up (not committed)."""
        self.progressed_at = time.monotonic()
        """When the thread's loop last came round (see defaults.STALL_SECONDS and Supervisor.stalled)."""
        self.abandoned = False
        """Set when a drain deadline passed with a batch that could not be written (the poll loop sets it)."""
        self.fatal: str | None = None
        """Why this member stopped for good (its instance id taken by another process); the supervisor exits."""
        self.instance_id = instance_id(group, index)
        self.log = log.bind(group=group.id, thread=index)
        self.offsets = OffsetBook(on_failure=self._commit_failed, log=self.log,
                                  on_sent=services.metrics.commits.labels(group.id).inc)
        self.membership = Membership(group.id, index, self.offsets, services.metrics, self.log)
        self.marks = Marks(group.id, services.marks)
        self._pipeline: Pipeline | None = None
        self.loop: PollLoop | None = None
        """The current Kafka consumer's poll loop, or the last one's until the next is made (None before the
        first)."""

    @property
    def joined(self) -> threading.Event:
        return self.membership.joined

    @property
    def assignment(self) -> frozenset[TopicPartition]:
        return self.membership.assignment

    @property
    def held(self) -> Mapping[TopicPartition, BadBatch]:
        """Partitions held at a batch the client cannot read (the status page's)."""
        return self.loop.pauser.held if self.loop is not None else {}

    @property
    def operator_paused(self) -> frozenset[TopicPartition]:
        """Partitions kept paused for an operator (the status page's)."""
        return self.loop.pauser.operator if self.loop is not None else frozenset()

    @property
    def paused_all(self) -> bool:
        """Every partition is paused while the thread waits (a failed write, marks, full queues)."""
        return self.loop.pauser.paused if self.loop is not None else False

    @property
    def waiting(self) -> str | None:
        """Why every partition is paused, while a failed write or the marks are waited for (the status page's)."""
        return self.loop.pauser.waiting if self.loop is not None else None

    def run(self) -> None:
        backoff = defaults.BACKOFF_INITIAL
        while not self.stop_event.is_set():
            self.progressed_at = time.monotonic()
            try:
                consumer = self.services.consumer_factory(self.services.kafka, self.group, self.index)
                try:
                    self.loop = PollLoop(self, consumer)
                    self.loop.consume()
                    return
                finally:
                    self._close(consumer)
            except (Fenced, FencedInstanceIdError):
                self.fatal = (f"another process joined group {self.group.id!r} with this member's instance id "
                              f"{self.instance_id!r}; the broker gave it this member's partitions. Give every "
                              "running karafkad its own instance id (instance_id in routes.yaml, or "
                              "--instance-id / $KARAFKAD_INSTANCE_ID)")
                self.log.error("static member fenced; this consumer stops", instance_id=self.instance_id,
                               reason=self.fatal)
                self.services.metrics.recent.add("consumer", self.fatal, group=self.group.id)
                return
            except Exception as exc:  # a broken client must not end the member: log, back off, rejoin
                error = failures.explain(exc, self.services.kafka)
                self.log.error("consumer failed; starting a new one", error=error, retry_in=round(backoff, 1))
                self.services.metrics.recent.add("consumer", error, group=self.group.id)
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, defaults.BACKOFF_MAX * 2)

    def pipeline(self) -> Pipeline:
        """The pipeline of the group's current routes (a reload swaps them between batches)."""
        routes = self.get_routes()
        if self._pipeline is None or self._pipeline.routes is not routes:
            self._pipeline = Pipeline(routes, self.services.daemon.max_message_bytes, tracer=self.services.tracer)
        return self._pipeline

    def progressed(self) -> None:
        self.progressed_at = time.monotonic()
        if fencing.fenced(self.instance_id):
            raise Fenced(self.instance_id)

    def _close(self, consumer: ConsumerClient) -> None:
        self.membership.consumer = None
        self.offsets.commit_sync(consumer)
        try:
            consumer.close(autocommit=False, timeout_ms=5000)  # a dynamic member leaves the group at once
        except Exception as exc:
            self.log.warning("consumer close failed", error=str(exc))
        self.membership.left()
        if self.loop is not None:
            self.loop.pauser.release_all()
        self.log.info("consumer closed")

    def _commit_failed(self, error: BaseException) -> None:
        self.services.metrics.commit_failures.labels(self.group.id).inc()
        self.log.warning("commit failed; will retry", error=f"{type(error).__name__}: {error}")
