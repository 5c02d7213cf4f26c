"""producer.py without a broker: settings, errors surfaced, buffering and flushing, `karafkad produce`'s loop.

A fake client stands in for kafka-python's KafkaProducer (its futures are
kafka-python's own Future class); tests/integration/test_producer_delivery.py runs the
same code against the real broker and reads the messages back with kcat.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError
from kafka_fakes import TOO_LARGE, FakeClient, make_producer

from karafkad.config.secrets import Secret
from karafkad.producer import (
    Delivery,
    Failure,
    Message,
    ProduceError,
    Producer,
    encode_json,
    kafka_settings,
)


class TestKafkaSettings:
    def test_the_routes_file_keys_become_client_options(self) -> None:
        """Comma-separated servers are split; passwords are Secrets in the settings, revealed only to the client."""
        settings = kafka_settings(bootstrap_servers="a:1, b:2", client_id="app", security_protocol="SASL_SSL",
                                  sasl_mechanism="PLAIN", sasl_plain_username="u", sasl_plain_password="pw")
        assert settings.bootstrap_servers == ("a:1", "b:2")
        assert settings.security["sasl_plain_password"] == Secret("pw")
        assert "pw" not in repr(settings)
        assert settings.client_options()["sasl_plain_password"] == "pw"

    def test_an_unknown_key_is_refused_with_a_suggestion(self) -> None:
        """A typo is a ValueError naming the key and the likely meant one."""
        with pytest.raises(ValueError, match=r"unknown key 'bootstrap_server' \(did you mean "
                                             r"'bootstrap_servers'\?\)"):
            kafka_settings(bootstrap_server="a:1")

    def test_sasl_without_its_settings_is_refused_as_the_routes_file_would_be(self) -> None:
        """The routes file's own SASL/SSL rules apply to keyword arguments too."""
        with pytest.raises(ValueError, match="SASL_SSL needs `sasl_mechanism`"):
            kafka_settings(security_protocol="SASL_SSL")
        with pytest.raises(ValueError, match="has no effect with security_protocol PLAINTEXT"):
            kafka_settings(ssl_cafile="/ca.pem")

    def test_a_wrongly_typed_password_is_refused_without_quoting_it(self) -> None:
        """The problem names the key and the type, never the value."""
        with pytest.raises(ValueError) as caught:
            kafka_settings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_plain_username="u",
                           sasl_plain_password=12345)
        assert "sasl_plain_password" in str(caught.value) and "12345" not in str(caught.value)


class TestProducerSettings:
    def test_from_config_uses_the_routes_files_kafka_section(self, tmp_path: Path) -> None:
        """from_config reads `kafka` (with ${VAR}s) from a routes file, as the daemon does."""
        (tmp_path / "handlers").mkdir()
        routes = tmp_path / "routes.yaml"
        routes.write_text("kafka:\n  bootstrap_servers: ${BROKER}\n  client_id: shop\n"
                          "groups:\n  g:\n    routes:\n      - {topic: t, handler: m.f}\n")
        producer = Producer.from_config(routes, environ={"BROKER": "kafka1:9093"}, timeout=5)
        assert producer.settings.bootstrap_servers == ("kafka1:9093",)
        assert producer._options["client_id"] == "shop"

    def test_the_timeout_bounds_blocking_and_delivery(self) -> None:
        """timeout sets how long a send may block and a delivery may take; kafka-python's own rule holds."""
        producer = Producer(bootstrap_servers="x:1", timeout=5, linger_ms=20)
        options = producer._options
        assert options["max_block_ms"] == 5000 and options["bootstrap_timeout_ms"] == 5000
        assert options["delivery_timeout_ms"] >= options["request_timeout_ms"] + options["linger_ms"]
        assert options["acks"] == "all"

    def test_a_request_gets_a_third_of_the_delivery_time(self) -> None:
        """A request lost to a leader that stopped answering is retried on its successor within the delivery
        time, instead of failing the message (and the idempotent producer's other batches in flight)."""
        options = Producer(bootstrap_servers="x:1", timeout=30, linger_ms=5)._options
        assert options["request_timeout_ms"] == 9998 and options["delivery_timeout_ms"] == 30_000
        assert Producer(bootstrap_servers="x:1", request_timeout_ms=25_000)._options["request_timeout_ms"] == 25_000

    def test_nothing_connects_before_the_first_message(self) -> None:
        """A producer can be created at import time: the client is built on first use."""
        built: list[object] = []
        Producer(bootstrap_servers="x:1", client_factory=lambda **kw: built.append(kw))
        assert built == []

    def test_settings_and_keyword_arguments_do_not_mix(self) -> None:
        """Giving both is a TypeError, not a silent choice of one."""
        with pytest.raises(TypeError, match="not both"):
            Producer(kafka_settings(), bootstrap_servers="x:1")


class TestSend:
    def test_send_waits_for_the_acknowledgement(self) -> None:
        """send returns where the message was stored; text keys, values and headers go out as UTF-8."""
        producer, client = make_producer()
        client.instant = True
        delivery = producer.send("t", "zoë", key="k", headers={"trace": "1", "raw": b"\xff"})
        assert delivery == Delivery("t", 0, 0, 1_700_000_000_000)
        assert client.sent == [{"topic": "t", "value": "zoë".encode(), "key": b"k",
                                "headers": [("trace", b"1"), ("raw", b"\xff")], "partition": None}]

    def test_send_json_encodes_exactly(self) -> None:
        """JSON is compact UTF-8; integers beyond 64 bits stay exact."""
        producer, client = make_producer()
        client.instant = True
        producer.send_json("t", {"n": 2**70, "name": "Zoë"})
        assert client.sent[0]["value"] == b'{"n":1180591620717411303424,"name":"Zo\xc3\xab"}'

    def test_a_refused_message_is_a_produce_error_naming_it(self) -> None:
        """The broker's refusal surfaces from send as ProduceError with topic, key and reason."""
        producer, client = make_producer()
        client.instant = True
        client.refuse.add(b"big")
        with pytest.raises(ProduceError) as caught:
            producer.send("t", b"big", key="k9")
        assert caught.value.failures == [Failure("t", "k9", "MessageSizeTooLargeError: The server has a "
                                                            "configurable maximum message size" + TOO_LARGE)]
        assert str(caught.value).startswith("a message was not delivered: topic 't' key 'k9': "
                                            "MessageSizeTooLargeError: The server has")

    def test_a_message_the_client_refuses_at_once_is_a_produce_error(self) -> None:
        """Errors raised while queueing (too large for the client) are ProduceError too."""
        producer, _ = make_producer()
        with pytest.raises(ProduceError, match="2000 bytes"):
            producer.send("t", b"x" * 2000)

    def test_values_that_are_not_json_are_refused_before_sending(self) -> None:
        """A set or NaN is not JSON: ProduceError saying so, nothing sent."""
        producer, client = make_producer()
        for data in ({1, 2}, float("nan")):
            with pytest.raises(ProduceError, match="not JSON"):
                producer.send_json("t", data)
        assert client.pending == []

    def test_wrong_types_are_type_errors(self) -> None:
        """A value that is not bytes/text, or a header without a value, is the caller's bug: TypeError."""
        producer, _ = make_producer()
        with pytest.raises(TypeError, match="use send_json"):
            producer.send("t", {"a": 1})  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="has no value"):
            producer.send("t", b"x", headers={"h": None})  # type: ignore[dict-item]

    def test_an_unreachable_cluster_is_a_produce_error(self) -> None:
        """A client that cannot be built (no broker) is ProduceError naming the servers."""
        def refuse(**_: Any) -> None:
            raise KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:1']")

        producer = Producer(bootstrap_servers="127.0.0.1:1", client_factory=refuse)
        with pytest.raises(ProduceError,
                           match=r"cannot connect to Kafka at 127\.0\.0\.1:1 \(PLAINTEXT\): KafkaTimeoutError: Unable"):
            producer.send("t", b"x")
        with pytest.raises(ProduceError, match=r"^cannot connect to Kafka at 127\.0\.0\.1:1"):
            producer.partitions_for("t")

    def test_an_unknown_topic_is_named(self) -> None:
        """partitions_for a topic the cluster does not have says so."""
        producer, _ = make_producer()
        with pytest.raises(ProduceError, match="topic 'nope' does not exist, or the cluster did not answer"):
            producer.partitions_for("nope")


class TestSendAll:
    def test_waits_for_each_message_and_says_where_it_went(self) -> None:
        """send_all returns a Delivery per message, in order."""
        producer, client = make_producer()
        client.instant = True
        deliveries = producer.send_all([Message("t", b"a"), Message("t", "b", key="k", headers={"h": "1"})])
        assert [d.offset for d in deliveries] == [0, 1]
        assert client.sent[1]["key"] == b"k" and client.sent[1]["headers"] == [("h", b"1")]

    def test_names_its_own_failures_only_and_leaves_buffered_ones_to_flush(self) -> None:
        """A refused message and one the client cannot even queue are named; a message buffered before by
        someone else is neither waited for nor reported here, but by its own flush."""
        producer, client = make_producer()
        client.refuse.add(b"bad")
        producer.buffer("t", b"bad", label="buffered")
        client.instant = True
        with pytest.raises(ProduceError) as caught:
            producer.send_all([Message("t", b"ok"), Message("t", b"bad", label=1), Message("t", b"x" * 2000, label=2)])
        assert [f.label for f in caught.value.failures] == [1, 2] and caught.value.count == 2
        with pytest.raises(ProduceError) as flushed:
            producer.flush()
        assert [f.label for f in flushed.value.failures] == ["buffered"]

    def test_a_cluster_out_of_reach_is_tried_once_and_names_every_message(self) -> None:
        """No client can be made: one attempt, and every message is reported as not delivered with the reason."""
        attempts: list[dict[str, Any]] = []

        def refuse(**options: Any) -> Any:
            attempts.append(options)
            raise KafkaTimeoutError("Unable to bootstrap")

        producer = Producer(bootstrap_servers="x:1", client_factory=refuse)
        with pytest.raises(ProduceError) as caught:
            producer.send_all([Message("t", b"a", label=1), Message("t", b"b", label=2)])
        assert len(attempts) == 1
        assert [f.label for f in caught.value.failures] == [1, 2]
        assert "cannot connect to Kafka at x:1" in caught.value.failures[1].error

    def test_a_message_still_unanswered_at_the_timeout_is_not_delivered(self) -> None:
        """The timeout bounds the whole call; what is unanswered then is named as not delivered."""
        producer, _ = make_producer()
        with pytest.raises(ProduceError, match="KafkaTimeoutError"):
            producer.send_all([Message("t", b"a")], timeout=0.05)


class TestBuffer:
    def test_flush_reports_each_undelivered_message_once(self) -> None:
        """buffer returns at once; flush raises ProduceError with the failed messages' labels; the next is clean."""
        producer, client = make_producer()
        client.refuse.add(b"bad")
        for n, value in enumerate([b"a", b"bad", b"b", b"bad"]):
            producer.buffer("t", value, label=n)
        assert client.sent == []
        with pytest.raises(ProduceError) as caught:
            producer.flush()
        assert [f.label for f in caught.value.failures] == [1, 3]
        assert caught.value.count == 2
        assert [r["value"] for r in client.sent] == [b"a", b"b"]
        producer.flush()

    def test_failures_beyond_the_kept_number_are_still_counted(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A dead broker fails everything: a bounded list is kept, the count is exact."""
        monkeypatch.setattr("karafkad.producer.MAX_KEPT_FAILURES", 3)
        producer, client = make_producer()
        client.refuse.add(b"x")
        for _ in range(10):
            producer.buffer("t", b"x")
        with pytest.raises(ProduceError) as caught:
            producer.flush()
        assert caught.value.count == 10 and len(caught.value.failures) == 3
        assert str(caught.value).startswith("10 messages were not delivered: topic 't': ")
        assert str(caught.value).endswith(" (and 7 more)")

    def test_a_flush_that_times_out_counts_the_unacknowledged(self) -> None:
        """Messages still in flight when the flush gives up are reported as not delivered."""
        producer, client = make_producer()
        client.hang = True
        producer.buffer("t", b"a")
        producer.buffer("t", b"b")
        with pytest.raises(ProduceError, match=r"2 messages were not delivered: 2 still unacknowledged after 0.1 s"):
            producer.flush(timeout=0.1)

    def test_close_flushes_then_disconnects_and_raises(self) -> None:
        """close waits for the buffered messages, closes the client even when some failed, then raises."""
        producer, client = make_producer()
        client.refuse.add(b"bad")
        producer.buffer("t", b"bad")
        with pytest.raises(ProduceError):
            producer.close()
        assert client.closed
        producer.close()  # a second close is a no-op
        with pytest.raises(ProduceError, match="the producer is closed"):
            producer.send("t", b"x")

    def test_leaving_a_with_block_flushes(self) -> None:
        """A with block ends with close(): its delivery errors are raised there."""
        producer, client = make_producer()
        client.refuse.add(b"bad")
        with pytest.raises(ProduceError), producer:
            producer.buffer("t", b"ok")
            producer.buffer("t", b"bad")
        assert [r["value"] for r in client.sent] == [b"ok"]

    def test_a_with_block_that_raised_keeps_its_exception_and_notes_the_undelivered(self) -> None:
        """The block's own exception wins; the undelivered messages are added to it as a note, not dropped."""
        producer, client = make_producer()
        client.refuse.add(b"bad")
        with pytest.raises(RuntimeError) as caught, producer:
            producer.buffer("t", b"bad")
            raise RuntimeError("handler failed")
        assert any("not delivered" in note for note in caught.value.__notes__)

    def test_a_client_in_a_fatal_state_is_replaced_for_the_next_message(self) -> None:
        """kafka-python's idempotent producer turns fatal after a refused batch; the next message gets a new client."""
        clients: list[FakeClient] = []

        def factory(**kafka: Any) -> FakeClient:
            client = FakeClient(**kafka)
            client.refuse.add(b"bad")
            clients.append(client)
            return client

        producer = Producer(bootstrap_servers="x:1", client_factory=factory)
        producer.buffer("t", b"bad")
        clients[0]._transaction_manager.fatal = True
        with pytest.raises(ProduceError):
            producer.flush()
        producer.buffer("t", b"good")
        producer.flush()
        assert len(clients) == 2 and clients[0].closed
        assert [r["value"] for r in clients[1].sent] == [b"good"]


class TestEncodeJson:
    def test_refuses_what_json_cannot_say(self) -> None:
        """NaN and infinities are refused rather than written as invalid JSON."""
        with pytest.raises(ValueError):
            encode_json(float("inf"))
        assert json.loads(encode_json({"a": [1, "é"]})) == {"a": [1, "é"]}
