"""A refused Kafka login is said once, clearly, instead of as kafka-python's repeated lines and a bare timeout."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from kafka import errors as kafka_errors

from karafkad.clients import kafkaerrors
from karafkad.clients.kafkaerrors import CLOSED_DURING_LOGIN, AuthFailures, authentication_error, describe
from karafkad.config.secrets import Secret
from karafkad.config.settings import KafkaSettings

REFUSED = kafka_errors.SaslAuthenticationFailedError(
    "SaslAuthenticationFailedError: Authentication failed during authentication due to invalid credentials with "
    "SASL mechanism SCRAM-SHA-512")


def record(name: str, message: str, *args: Any, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args, None)


@pytest.fixture
def reports() -> Iterator[list[dict[str, Any]]]:
    """The events kafkaerrors logs, captured."""
    with structlog.testing.capture_logs() as captured:
        yield captured


class TestAuthFailures:
    def test_a_refused_login_line_is_swallowed_and_reported_once(self, reports: list[dict[str, Any]]) -> None:
        """kafka-python's line with SaslAuthenticationFailedError is dropped; one clear error is logged."""
        failures = AuthFailures()
        assert not failures.filter(record("kafka.net.connection", "%s: Connection lost: %s", "conn", REFUSED))
        assert not failures.filter(record("kafka.net.transport", "Abort (%s)", REFUSED))
        [report] = reports
        assert report["log_level"] == "error"
        assert report["event"].startswith("Kafka authentication failed")
        assert report["error"].startswith("Authentication failed during authentication due to invalid credentials")

    def test_reports_are_rate_limited(self, reports: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
        """While the failure lasts, one report per REPORT_INTERVAL, counting the refused logins in between."""
        clock = [1000.0]
        monkeypatch.setattr(kafkaerrors.time, "monotonic", lambda: clock[0])
        failures = AuthFailures()
        for _ in range(5):
            failures.filter(record("kafka.net.connection", "%s: Connection lost: %s", "c", REFUSED))
            clock[0] += 1
        assert len(reports) == 1
        clock[0] += kafkaerrors.REPORT_INTERVAL
        failures.filter(record("kafka.net.connection", "%s: Connection lost: %s", "c", REFUSED))
        assert len(reports) == 2
        assert reports[1]["refused_logins"] == 5

    def test_a_disconnect_right_after_a_sasl_login_began_counts_as_refused(self,
                                                                           reports: list[dict[str, Any]]) -> None:
        """kafka-python sometimes loses the broker's refusal and says "socket disconnected": right after its
        SASL login warning, that is a refused login too (and the warning itself is dropped)."""
        failures = AuthFailures()
        assert not failures.filter(record("kafka.net.sasl.scram", "Exchanging credentials in the clear during "
                                                                  "Sasl Authentication", level=logging.WARNING))
        assert not failures.filter(record("kafka.net.transport", "%s: socket disconnected", "<transport>"))
        assert reports[0]["error"] == CLOSED_DURING_LOGIN

    def test_a_disconnect_without_a_login_is_left_alone(self, reports: list[dict[str, Any]]) -> None:
        """A broker restart's disconnects are not authentication failures."""
        failures = AuthFailures()
        assert failures.filter(record("kafka.net.transport", "%s: socket disconnected", "<transport>"))
        assert not reports

    def test_other_lines_pass(self, reports: list[dict[str, Any]]) -> None:
        """Lines from other loggers, and kafka-python's other errors, are not touched."""
        failures = AuthFailures()
        assert failures.filter(record("rq.worker", "SaslAuthenticationFailedError in a job's text"))
        assert failures.filter(record("kafka.coordinator", "Heartbeat failed: %s", "NotCoordinator"))
        assert failures.filter(record("kafka.net.transport", "broken %s %s", "too few args"))
        assert not reports

    def test_debug_logging_keeps_kafka_pythons_own_lines(self, reports: list[dict[str, Any]]) -> None:
        """With verbose on (log_level debug), kafka-python's lines pass as well as the report."""
        failures = AuthFailures()
        failures.verbose = True
        assert failures.filter(record("kafka.net.transport", "Abort (%s)", REFUSED))
        assert len(reports) == 1


class TestDescribe:
    def test_an_authentication_error_in_the_chain_is_named(self) -> None:
        """Whatever wraps it, a SASL failure reads "authentication failed", with the mechanism and user."""
        settings = KafkaSettings(security={"sasl_mechanism": "SCRAM-SHA-256", "sasl_plain_username": "karafkad",
                                           "sasl_plain_password": Secret("karafkad-secret")})
        try:
            try:
                raise REFUSED
            except kafka_errors.KafkaError as exc:
                raise kafka_errors.KafkaConnectionError("lost") from exc
        except kafka_errors.KafkaError as outer:
            assert authentication_error(outer) is REFUSED
            text = describe(outer, settings)
        assert text.startswith("authentication failed (SASL SCRAM-SHA-256 as user 'karafkad'): Authentication failed")
        assert "karafkad-secret" not in text

    def test_a_bootstrap_timeout_after_a_refused_login_is_explained(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """kafka-python's "Unable to bootstrap" right after a refused login is reported as the refusal."""
        failures = AuthFailures()
        monkeypatch.setattr(kafkaerrors, "auth_failures", failures)
        timeout = kafka_errors.KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:9094']")
        assert describe(timeout) == "KafkaTimeoutError: Unable to bootstrap from ['127.0.0.1:9094']"
        with structlog.testing.capture_logs():
            failures.filter(record("kafka.net.connection", "Connection lost: %s", REFUSED))
        assert describe(timeout).startswith("authentication failed: Authentication failed during authentication")

    def test_other_errors_are_named_and_masked(self) -> None:
        """Anything else is `Name: message`, with URL passwords masked."""
        assert describe(ValueError("redis://u:pw1234@h/0 down")) == "ValueError: redis://u:***@h/0 down"
