"""A refused Kafka login or a failed TLS handshake is said once, clearly, instead of as kafka-python's repeated lines
(with tracebacks) and a bare timeout."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from kafka import errors as kafka_errors

from karafkad.clients.kafka import failures as kafka_failures
from karafkad.clients.kafka.failures import CLOSED_DURING_LOGIN, Failures, authentication_error, explain
from karafkad.config.secrets import Secret
from karafkad.config.settings import KafkaSettings

REFUSED = kafka_errors.SaslAuthenticationFailedError(
    "SaslAuthenticationFailedError: Authentication failed during authentication due to invalid credentials with "
    "SASL mechanism SCRAM-SHA-512")


BAD_CERTIFICATE = "[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate (_ssl.c:2580)"
"""What the broker's MTLS listener says to a client without a certificate (Kafka 4.3, TLS 1.3)."""

MTLS = KafkaSettings(("127.0.0.1:9097",), security={"security_protocol": "SSL", "ssl_cafile": "/etc/kafka/ca.pem"})


def record(name: str, message: str, *args: Any, level: int = logging.ERROR,
           exc: BaseException | None = None) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args, (type(exc), exc, None) if exc else None)


def refused_client_certificate() -> list[logging.LogRecord]:
    """kafka-python's lines for one connection the MTLS listener refused (TLS 1.3: the alert arrives on the
    first read, so there is no "Handshake failed:" and the transport's line carries a traceback)."""
    alert = kafka_errors.KafkaConnectionError(BAD_CERTIFICATE)
    return [
        record("kafka.net.transport", "%s: Error receiving network data closing socket",
               "<KafkaSSLTransport [127.0.0.1:9097<-40000]>", exc=ssl.SSLError(1, BAD_CERTIFICATE)),
        record("kafka.net.transport", "%s: Abort (%s)", "<KafkaSSLTransport [none]>", alert),
        record("kafka.net.connection", "%s: Connection lost: %s", "<KafkaConnection node_id=bootstrap-0>", alert),
    ]


def explained_timeout(monkeypatch: pytest.MonkeyPatch, lines: list[logging.LogRecord], kafka: KafkaSettings) -> str:
    """explain() of the client's bootstrap timeout, right after kafka-python logged `lines`."""
    failures = Failures()
    monkeypatch.setattr(kafka_failures, "failures", failures)
    for line in lines:
        failures.note(line)
    return explain(kafka_errors.KafkaTimeoutError(f"Unable to bootstrap from {list(kafka.bootstrap_servers)}"), kafka)


@pytest.fixture
def reports() -> Iterator[list[dict[str, Any]]]:
    """The events clients/kafka/failures.py logs, captured."""
    with structlog.testing.capture_logs() as captured:
        yield captured


class TestAuthenticationFailures:
    def test_a_refused_login_line_is_swallowed_and_reported_once(self, reports: list[dict[str, Any]]) -> None:
        """kafka-python's line with SaslAuthenticationFailedError is dropped; one clear error is logged."""
        failures = Failures()
        assert not failures.filter(record("kafka.net.connection", "%s: Connection lost: %s", "conn", REFUSED))
        assert not failures.filter(record("kafka.net.transport", "Abort (%s)", REFUSED))
        [report] = reports
        assert report["log_level"] == "error"
        assert report["event"].startswith("Kafka authentication failed")
        assert report["error"].startswith("Authentication failed during authentication due to invalid credentials")

    def test_reports_are_rate_limited(self, reports: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
        """While the failure lasts, one report per REPORT_INTERVAL, counting the refused logins in between."""
        clock = [1000.0]
        monkeypatch.setattr(kafka_failures.time, "monotonic", lambda: clock[0])
        failures = Failures()
        for _ in range(5):
            failures.filter(record("kafka.net.connection", "%s: Connection lost: %s", "c", REFUSED))
            clock[0] += 1
        assert len(reports) == 1
        clock[0] += kafka_failures.REPORT_INTERVAL
        failures.filter(record("kafka.net.connection", "%s: Connection lost: %s", "c", REFUSED))
        assert len(reports) == 2
        assert reports[1]["refused_logins"] == 5

    def test_a_disconnect_right_after_a_sasl_login_began_counts_as_refused(self,
                                                                           reports: list[dict[str, Any]]) -> None:
        """kafka-python sometimes loses the broker's refusal and says "socket disconnected": right after its
        SASL login warning, that is a refused login too (and the warning itself is dropped)."""
        failures = Failures()
        assert not failures.filter(record("kafka.net.sasl.scram", "Exchanging credentials in the clear during "
                                                                  "Sasl Authentication", level=logging.WARNING))
        assert not failures.filter(record("kafka.net.transport", "%s: socket disconnected", "<transport>"))
        assert reports[0]["error"] == CLOSED_DURING_LOGIN

    def test_a_disconnect_without_a_login_is_left_alone(self, reports: list[dict[str, Any]]) -> None:
        """A broker restart's disconnects are not authentication failures."""
        failures = Failures()
        assert failures.filter(record("kafka.net.transport", "%s: socket disconnected", "<transport>"))
        assert not reports

    def test_other_lines_pass(self, reports: list[dict[str, Any]]) -> None:
        """Lines from other loggers, and kafka-python's other errors, are not touched."""
        failures = Failures()
        assert failures.filter(record("rq.worker", "SaslAuthenticationFailedError in a job's text"))
        assert failures.filter(record("kafka.coordinator", "Heartbeat failed: %s", "NotCoordinator"))
        assert failures.filter(record("kafka.net.transport", "broken %s %s", "too few args"))
        assert not reports

    def test_debug_logging_keeps_kafka_pythons_own_lines(self, reports: list[dict[str, Any]]) -> None:
        """With verbose on (log_level debug), kafka-python's lines pass as well as the report."""
        failures = Failures()
        failures.verbose = True
        assert failures.filter(record("kafka.net.transport", "Abort (%s)", REFUSED))
        assert len(reports) == 1


class TestExplain:
    def test_an_authentication_error_in_the_chain_is_named_where_and_as_whom_password_masked(self) -> None:
        """Whatever wraps it, a SASL failure reads "cannot connect ... authentication failed", with the listener,
        the mechanism and the user; never the password."""
        settings = KafkaSettings(("127.0.0.1:9094",), security={
            "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
            "sasl_plain_username": "karafkad", "sasl_plain_password": Secret("karafkad-secret")})
        try:
            try:
                raise REFUSED
            except kafka_errors.KafkaError as exc:
                raise kafka_errors.KafkaConnectionError("lost karafkad-secret") from exc
        except kafka_errors.KafkaError as outer:
            assert authentication_error(outer) is REFUSED
            text = explain(outer, settings)
        assert text.startswith("cannot connect to Kafka at 127.0.0.1:9094 (SASL_PLAINTEXT): authentication failed "
                               "(SASL SCRAM-SHA-256 as user 'karafkad'): Authentication failed")
        assert "karafkad-secret" not in text

    def test_a_bootstrap_timeout_after_a_refused_login_is_explained(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """kafka-python's "Unable to bootstrap" says where; right after a refused login, it is reported as the
        refusal."""
        failures = Failures()
        monkeypatch.setattr(kafka_failures, "failures", failures)
        timeout = kafka_errors.KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:9094']")
        assert explain(timeout) == ("cannot connect to Kafka at the bootstrap servers: "
                                    "KafkaTimeoutError: Unable to bootstrap from ['127.0.0.1:9094']")
        with structlog.testing.capture_logs():
            failures.filter(record("kafka.net.connection", "Connection lost: %s", REFUSED))
        assert explain(timeout).startswith("cannot connect to Kafka at the bootstrap servers: authentication "
                                           "failed: Authentication failed during authentication")

    def test_other_errors_are_named_once_and_masked(self) -> None:
        """Anything else is `Name: message`, the name said once, with URL passwords and known secrets masked
        (a producer's error about one message too)."""
        assert explain(ValueError("redis://u:pw1234@h/0 down")) == "ValueError: redis://u:***@h/0 down"
        assert explain(kafka_errors.KafkaTimeoutError("Batch expired")) == "KafkaTimeoutError: Batch expired"
        secret = Secret("s3cr3t-in-a-message")
        settings = KafkaSettings(security={"sasl_plain_password": secret})
        assert explain(kafka_errors.KafkaError(f"refused {secret.reveal()}"), settings) == "KafkaError: refused ***"

    def test_a_broker_error_code_without_words_gets_its_documented_meaning(self) -> None:
        """kafka-python's "[Error N]" prefix is dropped; a bare code says what it means."""
        assert explain(kafka_errors.NotLeaderForPartitionError()) == \
            f"NotLeaderForPartitionError: {kafka_errors.NotLeaderForPartitionError.description}"
        assert explain(kafka_errors.RequestTimedOutError("late")) == "RequestTimedOutError: late"


class TestTlsFailures:
    def test_kafka_pythons_lines_become_one_report_naming_listener_and_cause(
            self, reports: list[dict[str, Any]]) -> None:
        """Every line of a refused connection is swallowed (the traceback too); one error names the listener and
        says the cause in words."""
        failures = Failures()
        failures.kafka = MTLS
        for _ in range(3):
            assert not any(failures.filter(line) for line in refused_client_certificate())
        [report] = reports
        assert report["event"] == "Kafka TLS connection failed; the client keeps retrying with backoff"
        assert report["listener"] == "127.0.0.1:9097 (SSL)"
        assert report["cause"].startswith("the broker requires a client certificate and none is configured")
        assert report["failed_connections"] == 1

    def test_the_bootstrap_giving_up_is_part_of_the_failure(self, reports: list[dict[str, Any]]) -> None:
        """kafka-python's "Bootstrap failed" right after a failed handshake is swallowed; on its own it passes."""
        bootstrap_failed = record("kafka.net.manager", "Bootstrap failed: %s",
                                  kafka_errors.KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:9097"))
        failures = Failures()
        assert failures.filter(bootstrap_failed)
        for line in refused_client_certificate():
            failures.filter(line)
        again = record("kafka.net.manager", "Bootstrap failed: %s",
                       kafka_errors.KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:9097"))
        assert not failures.filter(again)
        assert len(reports) == 1

    def test_an_abrupt_close_does_not_hide_the_alert_of_a_neighbouring_attempt(self) -> None:
        """Under TLS 1.3 some attempts end in a bare EOF; the last specific cause stays the one remembered."""
        failures = Failures()
        for line in refused_client_certificate():
            failures.note(line)
        failures.note(record("kafka.net.transport", "%s: Error sending request data: %s", "<t>",
                             ssl.SSLEOFError(8, "EOF occurred in violation of protocol (_ssl.c:2427)")))
        last = failures.recent()
        assert last is not None and "BAD_CERTIFICATE" in last.text

    def test_a_bootstrap_timeout_after_a_failed_handshake_is_explained(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """explain() says where and why: the listener and the cause in words."""
        assert explained_timeout(monkeypatch, refused_client_certificate(), MTLS).startswith(
            "cannot connect to Kafka at 127.0.0.1:9097 (SSL): the broker requires a client certificate and none is "
            "configured")

    def test_the_recorder_sees_kafka_pythons_lines_where_nothing_prints_them(
            self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        """Without the daemon's logging (karafkad produce), watch() still lets explain() find the cause, and
        kafka-python's lines are not printed."""
        failures = Failures()
        monkeypatch.setattr(kafka_failures, "failures", failures)
        kafka_failures.watch()
        kafka_failures.watch()  # idempotent
        assert logging.getLogger("kafka").handlers.count(kafka_failures._recorder) == 1
        alert = kafka_errors.KafkaConnectionError(BAD_CERTIFICATE)
        logging.getLogger("kafka.net.connection").error("%s: Connection lost: %s", "<conn>", alert)
        last = failures.recent()
        assert last is not None and last.kind == "tls"
        assert capsys.readouterr().err == ""

    def test_a_tls_error_of_another_client_is_not_said_to_be_kafkas(self) -> None:
        """Only kafka-python's errors (and OpenSSL's) are explained as a Kafka connection failure."""
        redis_down = RuntimeError("Redis: ConnectionError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
                                  "failed: self-signed certificate in certificate chain (_ssl.c:1006)")
        assert explain(redis_down, MTLS).startswith("RuntimeError: Redis: ConnectionError")
        handshake = kafka_errors.KafkaConnectionError(f"Handshake failed: {BAD_CERTIFICATE}")
        assert explain(handshake, MTLS).startswith("cannot connect to Kafka at 127.0.0.1:9097 (SSL): the broker "
                                                   "requires a client certificate")

    def test_a_lone_abrupt_close_is_not_reported_a_second_one_is(self, reports: list[dict[str, Any]]) -> None:
        """A bare EOF names no cause (a broker going away gives one): reported only when it repeats."""
        failures = Failures()
        eof = ssl.SSLEOFError(8, "EOF occurred in violation of protocol (_ssl.c:2427)")
        for _ in range(2):
            assert not failures.filter(record("kafka.net.transport", "%s: Error sending request data: %s", "<t>",
                                              eof))
            assert len(reports) == _
        assert reports[0]["cause"].startswith("the broker closed the TLS connection without saying why")


PLAIN = KafkaSettings(("127.0.0.1:1",))

ECONNREFUSED = kafka_errors.KafkaConnectionError("111 ECONNREFUSED")


def refused_connection() -> list[logging.LogRecord]:
    """kafka-python 3.0.12's lines for one connection nothing listened for (a wrong port): neither names the
    address."""
    return [
        record("kafka.net.manager", "Connection failed: %s", ECONNREFUSED),
        record("kafka.net.connection", "%s: Connection lost: %s",
               "<KafkaConnection node_id=bootstrap-0 broker_version=unknown (disconnected)>", ECONNREFUSED),
    ]


class TestUnreachable:
    def test_kafka_pythons_lines_become_one_report_naming_the_address_and_the_cause(
            self, reports: list[dict[str, Any]]) -> None:
        """Every line of a refused connection is swallowed, its bootstrap giving up too; one error names the
        listener and says what a refused connection means, at the first attempt."""
        failures = Failures()
        failures.kafka = PLAIN
        for _ in range(20):
            assert not any(failures.filter(line) for line in refused_connection())
        assert not failures.filter(record("kafka.net.manager", "Bootstrap failed: %s",
                                          kafka_errors.KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:1']")))
        [report] = reports
        assert report["event"] == "Kafka is not reachable; the client keeps retrying with backoff"
        assert report["listener"] == "127.0.0.1:1 (PLAINTEXT)"
        assert report["cause"] == ("connection refused: nothing listens at that address and port (a wrong port, or "
                                   "the broker is down) (KafkaConnectionError: 111 ECONNREFUSED)")

    def test_reports_repeat_at_most_once_per_interval_counting_the_attempts(
            self, reports: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
        """While the broker stays out of reach, one report per REPORT_INTERVAL, with the connections that failed
        since the last one."""
        clock = [1000.0]
        monkeypatch.setattr(kafka_failures.time, "monotonic", lambda: clock[0])
        failures = Failures()
        for _ in range(10):
            for line in refused_connection():
                failures.filter(line)
            clock[0] += kafka_failures.REPORT_INTERVAL / 10 - 0.01
        assert len(reports) == 1
        clock[0] += 1
        failures.filter(refused_connection()[0])
        assert len(reports) == 2
        assert reports[1]["failed_connections"] == 10

    def test_a_name_that_does_not_resolve_says_so(self, reports: list[dict[str, Any]]) -> None:
        """kafka-python's "DNS Resolution failure" is reported as a host name that does not resolve."""
        failures = Failures()
        failures.filter(record("kafka.net.manager", "Connection failed: %s",
                               kafka_errors.KafkaConnectionError("DNS Resolution failure")))
        assert reports[0]["cause"].startswith("the host name does not resolve")

    def test_debug_logging_keeps_kafka_pythons_own_lines(self, reports: list[dict[str, Any]]) -> None:
        """With verbose on (log_level debug), every line of kafka-python's passes as well as the report."""
        failures = Failures()
        failures.verbose = True
        assert all(failures.filter(line) for line in refused_connection())
        assert len(reports) == 1

    def test_a_bootstrap_timeout_after_a_refused_connection_is_explained(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The client's "Unable to bootstrap" reads as the refused connection, where and why; so does a
        refused connection raised as an error of its own."""
        explained = explained_timeout(monkeypatch, refused_connection(), PLAIN)
        assert explained.startswith("cannot connect to Kafka at 127.0.0.1:1 (PLAINTEXT): connection refused: nothing "
                                    "listens at that address and port")
        assert explain(ECONNREFUSED, PLAIN) == explained

    def test_a_refused_connection_is_not_a_tls_failure(self, reports: list[dict[str, Any]]) -> None:
        """A refused TCP connection (broker down) is reported as not reachable, never as a TLS failure."""
        failures = Failures()
        failures.filter(record("kafka.net.manager", "Connection failed: %s", ECONNREFUSED))
        assert [r["event"] for r in reports] == ["Kafka is not reachable; the client keeps retrying with backoff"]
