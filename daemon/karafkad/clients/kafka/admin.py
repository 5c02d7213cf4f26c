"""The Kafka cluster as karafkad's operator commands see it: topics, groups, offsets (kafka-python's admin client).

One `Cluster` per command run: kafka-python's admin client remembers which
broker coordinates a group and never forgets it, so a long-lived one would
keep asking the old coordinator after a failover. Every answer is typed here;
partition-level errors come back as values (kafka-python returns them instead
of raising), so a command can say which partition failed and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, OffsetSpec
from kafka.errors import KafkaError, NoError

from karafkad.clients.kafka import failures
from karafkad.clients.kafka.types import OffsetAndMetadata, TopicPartition
from karafkad.config.settings import KafkaSettings

BOOTSTRAP_TIMEOUT_MS = 10_000
"""How long a command waits for a first broker (kafka-python's own 30 s is long at a terminal)."""


def command_client_options(kafka: KafkaSettings, client_id_suffix: str) -> dict[str, Any]:
    """kafka-python options for a client of an operator command: the routes file's connection, a first broker
    within BOOTSTRAP_TIMEOUT_MS, reconnects every 2 s at most; and kafka-python's reasons watched, so that a
    failed connection is explained (a TLS or SASL cause in words) as it is for the daemon's clients."""
    failures.watch()
    options = kafka.client_options()
    options.update(client_id=f"{kafka.client_id}-{client_id_suffix}", bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
                   reconnect_backoff_max_ms=2000)
    return options


@dataclass(frozen=True)
class TopicState:
    """A topic as the cluster has it."""

    name: str
    partitions: int
    replication_factor: int


@dataclass(frozen=True)
class Member:
    """An active member of a consumer group."""

    member_id: str
    client_id: str
    host: str
    instance_id: str | None

    def __str__(self) -> str:
        static = f", instance {self.instance_id}" if self.instance_id else ""
        return f"{self.client_id} on {self.host.lstrip('/')}{static}"


class Cluster:
    """A fresh admin client for one command; use as a context manager."""

    def __init__(self, kafka: KafkaSettings, client_id_suffix: str = "admin") -> None:
        self._admin: Any = KafkaAdminClient(**command_client_options(kafka, client_id_suffix))

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._admin.close()

    # --- topics -----------------------------------------------------------------------------------

    def partitions(self, topics: Iterable[str]) -> dict[str, int]:
        """topic -> its number of partitions, for those of `topics` that exist."""
        return {name: state.partitions for name, state in self.topics(topics).items()}

    def topics(self, topics: Iterable[str]) -> dict[str, TopicState]:
        """What the cluster has of `topics` (those that exist)."""
        found: dict[str, TopicState] = {}
        for topic in self._admin.describe_topics(list(topics)):
            if topic.get("error_code", 0) == 0:
                parts = topic.get("partitions", [])
                replicas = max((len(p.get("replica_nodes", [])) for p in parts), default=0)
                found[topic["name"]] = TopicState(topic["name"], len(parts), replicas)
        return found

    def configs(self, topics: Mapping[str, Iterable[str]]) -> dict[str, dict[str, str]]:
        """topic -> {config key: value as the cluster has it} for the keys asked."""
        resources = [ConfigResource(ConfigResourceType.TOPIC, name, list(keys)) for name, keys in topics.items()]
        if not resources:
            return {}
        described = self._admin.describe_configs(resources, config_filter="all").get("topic", {})
        return {name: {key: str(entry.get("value")) for key, entry in values.items()}
                for name, values in described.items()}

    def topic_config_names(self, existing: Iterable[str]) -> frozenset[str]:
        """The config names a topic may have on this cluster: all those of one topic's full description.

        Kafka lists every topic config, set or not, when a topic's configs are described without keys; the
        names depend on the broker's version (4.0 dropped message.format.version...), so they are read, not
        listed here. The topic described is the first of `existing`, or else one the cluster has (its own,
        such as __consumer_offsets, last: an ACL is likelier to keep them from a client); empty when it has none.
        KafkaError when the cluster refuses to describe it.
        """
        candidates = list(existing) or sorted(self._admin.list_topics(), key=lambda name: (name.startswith("__"), name))
        if not candidates:
            return frozenset()
        described = self._admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, candidates[0])],
                                                 config_filter="all").get("topic", {})
        return frozenset(described.get(candidates[0], {}))

    def create(self, name: str, partitions: int, replication_factor: int | None, config: Mapping[str, str]) -> None:
        """Create a topic (KafkaError when the cluster refuses it, with its reason)."""
        answer = self._admin.create_topics({name: {"num_partitions": partitions,
                                                   "replication_factor": replication_factor or -1,
                                                   "configs": dict(config)}}, raise_errors=False)
        for topic in answer.get("topics", []):
            if topic.get("error_code"):
                raise KafkaError(f"cannot create {name}: {topic.get('error_message') or topic['error_code']}")

    def add_partitions(self, name: str, total: int) -> None:
        """Grow a topic to `total` partitions."""
        self._admin.create_partitions({name: total})

    def set_configs(self, name: str, config: Mapping[str, str]) -> None:
        """Set these configs of a topic (the others are left as they are)."""
        answer = self._admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, dict(config))])
        result = answer.get("topic", {}).get(name, "OK")
        if result != "OK":
            raise KafkaError(f"cannot set the configs of {name}: {result}")

    # --- groups -----------------------------------------------------------------------------------

    def members(self, group: str) -> list[Member]:
        """The group's active members (empty when nobody consumes in it)."""
        described = self._admin.describe_groups([group]).get(group, {})
        if described.get("error"):
            raise KafkaError(f"cannot describe group {group}: {described['error']}")
        return [Member(str(m.get("member_id", "")), str(m.get("client_id", "")), str(m.get("client_host", "")),
                       m.get("group_instance_id")) for m in described.get("members", [])]

    def committed(self, group: str) -> dict[TopicPartition, int]:
        """The group's committed offsets."""
        offsets = self._admin.list_group_offsets(group).get(group, {})
        return {tp: int(meta.offset) for tp, meta in offsets.items() if meta.offset is not None and meta.offset >= 0}

    def commit(self, group: str, offsets: Mapping[TopicPartition, int]) -> dict[TopicPartition, str | None]:
        """Set the group's committed offsets (it must have no active member); per partition, None or the error."""
        answers = self._admin.alter_group_offsets(
            group, {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items()})
        return {tp: None if error is NoError else getattr(error, "__name__", str(error))
                for tp, error in answers.items()}

    # --- offsets ----------------------------------------------------------------------------------

    def earliest(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return self._offsets(dict.fromkeys(partitions, OffsetSpec.EARLIEST))

    def latest(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return self._offsets(dict.fromkeys(partitions, OffsetSpec.LATEST))

    def at_time(self, partitions: Iterable[TopicPartition], milliseconds: int) -> dict[TopicPartition, int | None]:
        """The first offset whose timestamp is at or after the time; None where there is none yet."""
        found = self._admin.list_partition_offsets(dict.fromkeys(partitions, milliseconds))
        return {tp: None if answer.offset is None or answer.offset < 0 else int(answer.offset)
                for tp, answer in found.items()}

    def _offsets(self, specs: Mapping[TopicPartition, Any]) -> dict[TopicPartition, int]:
        if not specs:
            return {}
        return {tp: int(answer.offset) for tp, answer in self._admin.list_partition_offsets(dict(specs)).items()}
