"""clients/kafka/reachability.py: why a connection could not be opened, in words, kafka-python's beside them."""

from __future__ import annotations

import pytest

from karafkad.clients.kafka.reachability import unreachable_cause


class TestUnreachableCause:
    @pytest.mark.parametrize(("text", "starts"), [
        ("Connection failed: KafkaConnectionError: 111 ECONNREFUSED", "connection refused: nothing listens"),
        ("Connection failed: KafkaConnectionError: DNS Resolution failure", "the host name does not resolve"),
        ("DNS lookup failed for nowhere.invalid:9092, gaierror(-2, 'Name or service not known')",
         "the host name does not resolve"),
        ("Connection failed: KafkaTimeoutError: Connection timed out", "the connection timed out"),
        ("Connection failed: KafkaConnectionError: 113 EHOSTUNREACH", "no route to the host"),
    ])
    def test_each_way_a_connection_fails_to_open_is_said_in_words(self, text: str, starts: str) -> None:
        """Refused, no such host, timed out, no route: what it means and what to check."""
        cause = unreachable_cause(text)
        assert cause is not None and cause.startswith(starts)

    def test_kafka_pythons_error_follows_in_parentheses_without_its_backoff(self) -> None:
        """The errno's name stays visible, the rest of kafka-python's line does not."""
        cause = unreachable_cause("Bootstrap connection to bootstrap-0 failed: KafkaConnectionError: 111 "
                                  "ECONNREFUSED (backoff 0.35 secs)")
        assert cause is not None and cause.endswith(" (KafkaConnectionError: 111 ECONNREFUSED)")

    @pytest.mark.parametrize("text", ["<conn>: socket disconnected", "Heartbeat failed: NotCoordinator",
                                      "Handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED]"])
    def test_other_failures_are_not_taken_for_an_unreachable_broker(self, text: str) -> None:
        """A broker closing a connection, a group error, a TLS failure: not this."""
        assert unreachable_cause(text) is None
