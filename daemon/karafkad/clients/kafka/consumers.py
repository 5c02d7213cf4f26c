"""Kafka consumers with karafkad's settings, each one justified (the group's own settings come from routes.yaml)."""

from __future__ import annotations

from typing import cast

from kafka import KafkaConsumer
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor

from karafkad import defaults
from karafkad.clients.kafka import failures
from karafkad.clients.kafka.types import ConsumerClient
from karafkad.clients.kafka.workarounds import patches
from karafkad.config.settings import GroupSpec, KafkaSettings
from karafkad.observability import get_logger

log = get_logger(__name__)

ASSIGNORS = {
    "range": RangePartitionAssignor,
    "roundrobin": RoundRobinPartitionAssignor,
    "sticky": StickyPartitionAssignor,
    "cooperative-sticky": CooperativeStickyAssignor,
}
"""routes.yaml's assignment_strategy -> kafka-python's assignor (one each: kafka-python refuses to mix
the cooperative protocol with the eager ones)."""


def instance_id(group: GroupSpec, index: int) -> str | None:
    """The static membership id of thread `index` of this daemon in `group` (None: a dynamic member)."""
    return f"{group.instance_id}-{index}" if group.instance_id else None


def heartbeat_interval_ms(group: GroupSpec) -> int:
    """The group's heartbeat_interval_ms, or a third of its session timeout, at most 1 s (see defaults)."""
    if group.heartbeat_interval_ms:
        return group.heartbeat_interval_ms
    return max(min(group.session_timeout_ms // 3, defaults.HEARTBEAT_INTERVAL_MAX_MS), 100)


def make_consumer(kafka: KafkaSettings, group: GroupSpec, index: int) -> ConsumerClient:
    """A member of `group` (consumer thread number `index`), not yet subscribed."""
    if not patches.apply():
        log.warning("kafka-python changed: a message with a non-UTF-8 header key will stall this consumer")
    failures.watch()  # so that a failed bootstrap can be explained (see failures.explain)
    options = kafka.client_options()
    options["client_id"] = f"{kafka.client_id}-{group.id}-{index}"
    # A leader frozen for 40 s under load (tests/integration/test_cluster_faults.py) held its partitions
    # still for all 40 s at kafka-python's 30 s: the fetch timed out after 30 s, and the reconnect to the
    # frozen node (its port still accepts connections) waited again. At 10 s they stood still 10.5 s, no
    # longer than the producer's own writes to them did.
    options.setdefault("request_timeout_ms", defaults.REQUEST_TIMEOUT_MS)
    consumer = KafkaConsumer(
        group_id=group.id,
        enable_auto_commit=False,
        auto_offset_reset=group.auto_offset_reset,
        session_timeout_ms=group.session_timeout_ms,
        heartbeat_interval_ms=heartbeat_interval_ms(group),
        max_poll_records=group.max_poll_records,
        max_poll_interval_ms=group.max_poll_interval_ms,
        group_instance_id=instance_id(group, index),
        isolation_level=group.isolation_level,
        partition_assignment_strategy=(ASSIGNORS[group.assignment_strategy],),
        allow_auto_create_topics=False,
        metrics_enabled=False,
        # kafka-python backs off up to 30 s between reconnects; after a broker restart that
        # is up to 30 s of standing still. 2 s keeps recovery quick without hammering.
        reconnect_backoff_max_ms=2000,
        # kafka-python waits 30 s for a first broker by default, and a SIGTERM while the broker refuses
        # the login or the TLS handshake waits that out (the consumer thread is inside kafka-python's
        # constructor). 5 s is far more than a first broker's answer takes, even over TLS and SASL
        # across a network; past it the thread backs off and makes a new client, and a stop waits 5 s
        # at most (it was 10 s here: the suite's TLS and SASL refusals took 11 s each).
        bootstrap_timeout_ms=5_000,
        # kafka-python keeps one fetch per broker in flight and leaves out the partitions that
        # still have buffered records; a fetch holding only caught-up partitions then waits the
        # full fetch_max_wait_ms at the broker while the others run dry. At the default 500 ms
        # that capped consuming at ~30k msgs/s here; at 100 ms, ~95k (scripts/bench, raw).
        fetch_max_wait_ms=defaults.FETCH_MAX_WAIT_MS,
        **options,
    )
    return cast(ConsumerClient, consumer)
