"""A TLS failure's OpenSSL text becomes its cause in words, whichever client and TLS version reported it.

The texts are the ones kafka-python 3.0.12 and redis-py logged or raised
against the project's Kafka 4.3 broker and Debian's redis-server (TLS 1.3,
OpenSSL 3.0), plus OpenSSL's TLS 1.2 alerts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pem_files import certificate, write_pem

from karafkad.clients.tls.causes import TlsFiles, is_generic, is_tls_failure, openssl_reason, tls_cause

WRONG_CA = ("KafkaConnectionError: Handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
            "self-signed certificate in certificate chain (_ssl.c:1006)")
NO_LOCAL_ISSUER = ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer "
                   "certificate (_ssl.c:1006)")
IP_MISMATCH = ("KafkaConnectionError: Handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
               "IP address mismatch, certificate is not valid for '127.0.0.1'. (_ssl.c:1006)")
HOST_MISMATCH = ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not "
                 "valid for 'kafka.internal'. (_ssl.c:1006)")
BAD_CERTIFICATE = ("Abort (KafkaConnectionError: [SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate "
                   "(_ssl.c:2580))")
CERTIFICATE_UNKNOWN = ("Connection lost: KafkaConnectionError: [SSL: SSLV3_ALERT_CERTIFICATE_UNKNOWN] sslv3 alert "
                       "certificate unknown (_ssl.c:2580)")
CERTIFICATE_EXPIRED = ("Error while reading from 127.0.0.1:6380 : (1, '[SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED] sslv3 "
                       "alert certificate expired (_ssl.c:2580)')")
CERTIFICATE_REQUIRED = "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required (_ssl.c:2580)"
HANDSHAKE_FAILURE = "Handshake failed: [SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure (_ssl.c:1006)"
UNKNOWN_CA = "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:2580)"
EOF_TEXT = "Error sending request data: EOF occurred in violation of protocol (_ssl.c:2427)"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a client certificate it signed (valid 2025-2027), one signed by another CA, one that expired and
    one not valid yet (causes.py reads names and dates, never signatures)."""
    folder = tmp_path_factory.mktemp("pki")
    write_pem(folder / "ca.pem", certificate("test ca", "test ca", datetime(2024, 1, 1, tzinfo=UTC),
                                             datetime(2034, 1, 1, tzinfo=UTC)))
    for file, issuer, start, end in (("client", "test ca", 2025, 2027), ("stranger", "test other-ca", 2025, 2027),
                                     ("expired", "test ca", 2020, 2020), ("early", "test ca", 2030, 2031)):
        until = datetime(end, 1, 2, tzinfo=UTC)
        write_pem(folder / f"{file}.pem", certificate(file, issuer, datetime(start, 1, 1, tzinfo=UTC), until))
    return folder


def broker(pki: Path, client: str | None = "client", cafile: str | None = "ca") -> TlsFiles:
    """A Kafka client's files in `pki`: its CA file and client certificate (None: not configured)."""
    return TlsFiles("the broker", str(pki / f"{cafile}.pem") if cafile else None,
                    str(pki / f"{client}.pem") if client else None, str(pki / f"{client}.key") if client else None)


def cause(text: str, files: TlsFiles) -> str:
    found = tls_cause(text, files, now=lambda: NOW)
    assert found is not None
    return found


class TestServerCertificate:
    def test_a_certificate_from_another_ca_names_the_cafile(self, pki: Path) -> None:
        """Java brokers send their CA along, so OpenSSL says "self-signed certificate in certificate chain";
        with only the leaf it says "unable to get local issuer": both are a CA the cafile does not hold."""
        files = broker(pki)
        for text in (WRONG_CA, NO_LOCAL_ISSUER):
            assert cause(text, files).startswith(
                f"the broker's certificate is not signed by the CA in ssl_cafile {pki / 'ca.pem'} (certificate "
                "verify failed: ")

    def test_without_a_cafile_the_system_cas_are_named(self) -> None:
        """No ssl_cafile: the system's CAs were used, and the cause says to set it."""
        assert "not signed by a CA this system trusts; set ssl_cafile" in cause(WRONG_CA, TlsFiles("the broker"))

    @pytest.mark.parametrize(("text", "host"), [(IP_MISMATCH, "127.0.0.1"), (HOST_MISMATCH, "kafka.internal")])
    def test_a_hostname_mismatch_names_the_host(self, text: str, host: str) -> None:
        """OpenSSL says "IP address mismatch" for an address and "Hostname mismatch" for a name."""
        assert cause(text, TlsFiles("the broker")).startswith(
            f"hostname mismatch: the broker's certificate is not valid for {host} (")

    def test_an_expired_server_certificate(self) -> None:
        """The client's own verification of the server's dates."""
        text = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)"
        assert cause(text, TlsFiles("the Redis server")).startswith("the Redis server's certificate has expired")


class TestClientCertificate:
    def test_a_missing_client_certificate(self, pki: Path) -> None:
        """bad_certificate (Java, TLS 1.3), certificate_required (OpenSSL, TLS 1.3) or handshake_failure (TLS 1.2)
        without an ssl_certfile: one is required and none is configured."""
        for text in (BAD_CERTIFICATE, CERTIFICATE_REQUIRED, HANDSHAKE_FAILURE):
            assert cause(text, broker(pki, client=None)).startswith(
                "the broker requires a client certificate and none is configured: set ssl_certfile and ssl_keyfile")

    def test_an_expired_client_certificate_is_told_by_its_file(self, pki: Path) -> None:
        """A Java broker says only "certificate unknown"; the file says it expired, and when."""
        assert cause(CERTIFICATE_UNKNOWN, broker(pki, "expired")) == (
            f"the broker refused the client certificate: expired on 2020-01-02 (ssl_certfile {pki / 'expired.pem'}; "
            "the broker said: sslv3 alert certificate unknown)")

    def test_a_certificate_expired_alert(self, pki: Path) -> None:
        """An OpenSSL server (Redis) says certificate_expired itself."""
        files = TlsFiles("the Redis server", str(pki / "ca.pem"), str(pki / "expired.pem"), cafile_key="ssl_ca_certs")
        assert cause(CERTIFICATE_EXPIRED, files).startswith("the Redis server refused the client certificate: "
                                                            "expired on 2020-01-02")

    def test_a_client_certificate_not_yet_valid(self, pki: Path) -> None:
        """A certificate whose validity starts later (a clock problem, or an early rollout)."""
        assert ": not valid before 2030-01-01" in cause(CERTIFICATE_UNKNOWN, broker(pki, "early"))

    def test_a_client_certificate_from_another_ca(self, pki: Path) -> None:
        """Its issuer is not the CA of ssl_cafile (the usual set-up uses one CA for both): said so, by name."""
        for text in (CERTIFICATE_UNKNOWN, UNKNOWN_CA):
            assert cause(text, broker(pki, "stranger")).startswith(
                "the broker refused the client certificate: it is signed by 'test other-ca', not by the CA in "
                "ssl_cafile; the broker must trust the CA that signed it")

    def test_a_refused_certificate_with_nothing_wrong_in_its_file(self, pki: Path) -> None:
        """Then only the alert is quoted, with the file it is about."""
        assert cause(CERTIFICATE_UNKNOWN, broker(pki)) == (
            f"the broker refused the client certificate (ssl_certfile {pki / 'client.pem'}; the broker said: sslv3 "
            "alert certificate unknown)")

    def test_an_abrupt_close_is_explained_by_the_certificate_file_when_it_can(self, pki: Path) -> None:
        """Under TLS 1.3 the alert is sometimes lost (EOF); an expired certificate is still named."""
        assert cause(EOF_TEXT, broker(pki, "expired")).startswith(
            "the broker closed the TLS connection, refusing the client certificate: expired on 2020-01-02")
        assert cause(EOF_TEXT, broker(pki)).startswith(
            "the broker closed the TLS connection without saying why (EOF occurred in violation of protocol); "
            "if this repeats")


class TestLocalFiles:
    def test_a_missing_file_is_named(self, pki: Path) -> None:
        """kafka-python says only "[Errno 2] No such file or directory": the configured file that is missing."""
        files = TlsFiles("the broker", str(pki / "nope.pem"))
        assert cause("Connection failed: [Errno 2] No such file or directory", files) == (
            f"ssl_cafile {pki / 'nope.pem'} does not exist")

    def test_a_missing_file_that_is_not_configured_is_not_a_tls_cause(self, pki: Path) -> None:
        """Every configured file exists: the error is about something else."""
        assert tls_cause("[Errno 2] No such file or directory", TlsFiles("the broker", str(pki / "ca.pem"))) is None

    def test_a_key_that_does_not_load(self, pki: Path) -> None:
        """OpenSSL's "PEM lib" (a wrong password, or not PEM) names both files and the password."""
        found = cause("[SSL] PEM lib (_ssl.c:3926)", broker(pki))
        assert found.startswith(f"cannot load the client certificate or key ({pki / 'client.pem'}, ")
        assert "wrong ssl_password" in found

    def test_plain_text_where_tls_was_expected(self) -> None:
        """A TLS client on a plain port."""
        text = "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"
        assert cause(text, TlsFiles("the broker")).startswith("the broker does not speak TLS on this port")


class TestReasons:
    def test_only_tls_failures_are_recognised(self) -> None:
        """A refused connection or a timeout is not a TLS failure."""
        assert is_tls_failure(WRONG_CA) and is_tls_failure(EOF_TEXT) and is_tls_failure("[Errno 2] No such file")
        assert not is_tls_failure("[Errno 111] Connection refused")
        assert tls_cause("KafkaConnectionError: socket disconnected", TlsFiles("the broker")) is None

    def test_an_eof_is_generic_an_alert_is_not(self) -> None:
        """EOF names no cause; a text with an alert or a verification failure does."""
        assert is_generic(EOF_TEXT)
        assert not is_generic(BAD_CERTIFICATE) and not is_generic(WRONG_CA)

    def test_openssl_reason_drops_the_token_and_the_source_line(self) -> None:
        """What is left is OpenSSL's sentence."""
        assert openssl_reason(BAD_CERTIFICATE) == "sslv3 alert bad certificate"
        assert openssl_reason(EOF_TEXT) == "EOF occurred in violation of protocol"
