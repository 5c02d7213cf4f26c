"""What every consumer thread of the daemon shares: settings, the Redis writer, the dead-letter sender, metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from karafkad.clients.kafka.consumers import make_consumer
from karafkad.clients.kafka.types import ConsumerClient
from karafkad.config.settings import DaemonSettings, GroupSpec, KafkaSettings
from karafkad.consuming.backpressure import QueueGate
from karafkad.consuming.dead_letter_sender import DeadLetterSender
from karafkad.consuming.operator_pauses import OperatorPauses
from karafkad.observability import Metrics
from karafkad.store.enqueuer import Enqueuer
from karafkad.store.marks import MarkReader
from karafkad.tracing.messages import MessageTracer

ConsumerFactory = Callable[[KafkaSettings, GroupSpec, int], ConsumerClient]
"""make(kafka settings, group, thread index) -> a Kafka consumer (kafka-python's, or a test double)."""


@dataclass
class Services:
    """What a consumer thread writes to, shared by all threads of the daemon."""

    kafka: KafkaSettings
    daemon: DaemonSettings
    enqueuer: Enqueuer
    dead_letters: DeadLetterSender
    metrics: Metrics
    consumer_factory: ConsumerFactory = make_consumer
    queue_gate: QueueGate | None = None
    marks: MarkReader = field(kw_only=True)
    """Reads a partition's marks and replay window from the enqueuer's Redis (consuming/marks_cache.py)."""
    tracer: MessageTracer | None = field(default=None, kw_only=True)
    """Makes the spans of messages whose trace context is sampled (tracing/spans.py); None: tracing is off."""
    pauses: OperatorPauses = field(default_factory=OperatorPauses, kw_only=True)
    """The operators' pauses, as the maintenance thread last read them (every thread obeys them)."""
