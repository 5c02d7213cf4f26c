"""clients/kafka/admin.py: the cluster as the operator commands see it, on a fake admin client (kafka-python's
answers, as it gives them, typed; against a real broker it is tests/integration/test_topics.py's and
test_replay.py's)."""

from __future__ import annotations

from typing import Any

import pytest
from kafka.admin import ConfigResourceType, OffsetSpec
from kafka.errors import KafkaError, NoError, UnknownMemberIdError

from karafkad.clients.kafka import admin
from karafkad.clients.kafka.admin import BOOTSTRAP_TIMEOUT_MS, Cluster, Member, TopicState, command_client_options
from karafkad.clients.kafka.types import OffsetAndMetadata, TopicPartition
from karafkad.config.secrets import Secret
from karafkad.config.settings import KafkaSettings

TP0, TP1 = TopicPartition("t", 0), TopicPartition("t", 1)


class Answer:
    """kafka-python's OffsetAndTimestamp-like answer: an offset (None or -1 when there is none)."""

    def __init__(self, offset: int | None) -> None:
        self.offset = offset


class FakeAdmin:
    """KafkaAdminClient's methods Cluster calls, answering from `answers` and noting each call."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.answers: dict[str, Any] = {}
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.closed = False

    def __getattr__(self, name: str) -> Any:
        def method(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            return self.answers.get(name)
        return method

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeAdmin:
    """The admin client the next Cluster makes."""
    made = FakeAdmin()

    def make(**options: Any) -> FakeAdmin:
        made.options = options
        return made

    monkeypatch.setattr(admin, "KafkaAdminClient", make)
    return made


class TestCommandClientOptions:
    def test_the_routes_file_s_connection_with_a_short_first_broker_wait(self) -> None:
        """Servers, security (passwords revealed for kafka-python), a client id naming the command's client, a first
        broker within BOOTSTRAP_TIMEOUT_MS, reconnects every 2 s at most."""
        kafka = KafkaSettings(("k:9092",), "shop", {"sasl_plain_password": Secret("pw")})
        assert command_client_options(kafka, "reader") == {
            "bootstrap_servers": ["k:9092"], "client_id": "shop-reader", "sasl_plain_password": "pw",
            "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS, "reconnect_backoff_max_ms": 2000}


class TestMember:
    def test_a_member_is_named_by_client_host_and_static_id(self) -> None:
        """What `replay` says of a member in its way: the client id, the host without kafka-python's slash, and
        the instance id of a static member."""
        assert str(Member("m-1", "karafkad", "/10.0.0.5", None)) == "karafkad on 10.0.0.5"
        assert str(Member("m-1", "karafkad", "/10.0.0.5", "host1-0")) == "karafkad on 10.0.0.5, instance host1-0"


class TestCluster:
    def test_made_with_the_command_options_and_closed_by_the_with_block(self, fake: FakeAdmin) -> None:
        """One fresh admin client per command (its coordinator cache would outlive a failover); closed after."""
        with Cluster(KafkaSettings(), "topics") as cluster:
            assert isinstance(cluster, Cluster)
            assert fake.options["client_id"] == "karafkad-topics"
        assert fake.closed

    def test_topics_that_exist_with_partitions_and_replication(self, fake: FakeAdmin) -> None:
        """A topic with an error code (it does not exist) is left out; replication is the most replicas a partition
        has."""
        fake.answers["describe_topics"] = [
            {"name": "a", "error_code": 0, "partitions": [{"replica_nodes": [1, 2]}, {"replica_nodes": [1, 2, 3]}]},
            {"name": "gone", "error_code": 3, "partitions": []}]
        cluster = Cluster(KafkaSettings())
        assert cluster.topics(["a", "gone"]) == {"a": TopicState("a", 2, 3)}
        assert cluster.partitions(["a", "gone"]) == {"a": 2}

    def test_configs_asked_for_named_keys_as_text(self, fake: FakeAdmin) -> None:
        """Only the keys asked, values as the cluster keeps them (text); nothing asked, no request."""
        fake.answers["describe_configs"] = {"topic": {"a": {"retention.ms": {"value": 1000}}}}
        cluster = Cluster(KafkaSettings())
        assert cluster.configs({"a": ["retention.ms"]}) == {"a": {"retention.ms": "1000"}}
        [(method, (resources,), options)] = fake.calls
        assert (method, options) == ("describe_configs", {"config_filter": "all"})
        assert (resources[0].resource_type, resources[0].name) == (ConfigResourceType.TOPIC, "a")
        assert cluster.configs({}) == {}

    def test_config_names_come_from_a_declared_topic_else_an_ordinary_one(self, fake: FakeAdmin) -> None:
        """The names of one topic's full description; from the first existing declared topic, else from the
        cluster's topics, its own (`__...`) last; none when it has no topic."""
        fake.answers["describe_configs"] = {"topic": {"x": {"retention.ms": {}, "cleanup.policy": {}}}}
        fake.answers["list_topics"] = ["__consumer_offsets", "x"]
        cluster = Cluster(KafkaSettings())
        assert cluster.topic_config_names([]) == frozenset({"retention.ms", "cleanup.policy"})
        assert fake.calls[-1][1][0][0].name == "x"
        cluster.topic_config_names(["declared"])
        assert fake.calls[-1][1][0][0].name == "declared"
        fake.answers["list_topics"] = []
        assert cluster.topic_config_names([]) == frozenset()

    def test_a_refused_create_or_config_change_raises_with_the_reason(self, fake: FakeAdmin) -> None:
        """kafka-python returns per-topic errors instead of raising: they become KafkaError naming the topic."""
        cluster = Cluster(KafkaSettings())
        fake.answers["create_topics"] = {"topics": [{"error_code": 38, "error_message": "replication factor 3 > 1"}]}
        with pytest.raises(KafkaError, match="cannot create a: replication factor 3 > 1"):
            cluster.create("a", 3, 3, {"retention.ms": "1"})
        assert fake.calls[-1][1][0] == {"a": {"num_partitions": 3, "replication_factor": 3,
                                              "configs": {"retention.ms": "1"}}}
        fake.answers["create_topics"] = {"topics": [{"error_code": 0}]}
        cluster.create("b", 1, None, {})
        assert fake.calls[-1][1][0]["b"]["replication_factor"] == -1  # the broker's default
        fake.answers["alter_configs"] = {"topic": {"a": "InvalidConfigurationError"}}
        with pytest.raises(KafkaError, match="cannot set the configs of a: InvalidConfigurationError"):
            cluster.set_configs("a", {"retention.ms": "x"})

    def test_members_of_a_group(self, fake: FakeAdmin) -> None:
        """Its active members typed; a group the broker cannot describe is a KafkaError."""
        fake.answers["describe_groups"] = {"g": {"members": [
            {"member_id": "m", "client_id": "karafkad", "client_host": "/h", "group_instance_id": "i-0"}]}}
        cluster = Cluster(KafkaSettings())
        assert cluster.members("g") == [Member("m", "karafkad", "/h", "i-0")]
        fake.answers["describe_groups"] = {"g": {"error": "GroupAuthorizationFailedError"}}
        with pytest.raises(KafkaError, match="cannot describe group g: GroupAuthorizationFailedError"):
            cluster.members("g")

    def test_committed_offsets_and_a_commit_answered_per_partition(self, fake: FakeAdmin) -> None:
        """Partitions without a committed offset are left out; a commit says None or the error's name per
        partition."""
        fake.answers["list_group_offsets"] = {"g": {TP0: OffsetAndMetadata(5, "", -1),
                                                    TP1: OffsetAndMetadata(-1, "", -1)}}
        cluster = Cluster(KafkaSettings())
        assert cluster.committed("g") == {TP0: 5}
        fake.answers["alter_group_offsets"] = {TP0: NoError, TP1: UnknownMemberIdError}
        assert cluster.commit("g", {TP0: 7, TP1: 8}) == {TP0: None, TP1: "UnknownMemberIdError"}
        assert fake.calls[-1][1] == ("g", {TP0: OffsetAndMetadata(7, "", -1), TP1: OffsetAndMetadata(8, "", -1)})

    def test_offsets_earliest_latest_and_at_a_time(self, fake: FakeAdmin) -> None:
        """One request for all partitions; at a time past the last record, that partition has None."""
        cluster = Cluster(KafkaSettings())
        fake.answers["list_partition_offsets"] = {TP0: Answer(3), TP1: Answer(0)}
        assert cluster.earliest([TP0, TP1]) == {TP0: 3, TP1: 0}
        assert fake.calls[-1][1][0] == {TP0: OffsetSpec.EARLIEST, TP1: OffsetSpec.EARLIEST}
        fake.answers["list_partition_offsets"] = {TP0: Answer(10)}
        assert cluster.latest([TP0]) == {TP0: 10}
        assert fake.calls[-1][1][0] == {TP0: OffsetSpec.LATEST}
        fake.answers["list_partition_offsets"] = {TP0: Answer(9), TP1: Answer(-1)}
        assert cluster.at_time([TP0, TP1], 1_700_000_000_000) == {TP0: 9, TP1: None}
        calls = len(fake.calls)
        assert cluster.earliest([]) == {} and len(fake.calls) == calls  # nothing asked, no request
