"""Redis clients get the routes file's TLS settings, and a Redis TLS failure reads as its cause."""

from __future__ import annotations

import ssl
from pathlib import Path

import redis

from karafkad.clients.redisconn import connect, describe, tls_options
from karafkad.config.secrets import Secret
from karafkad.config.settings import RedisSettings

WRONG_CA = ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate "
            "chain (_ssl.c:1006)")


def connection_kwargs(settings: RedisSettings) -> dict[str, object]:
    return dict(connect(settings).connection_pool.connection_kwargs)


class TestConnect:
    def test_tls_with_host_and_port_verifies_by_default(self) -> None:
        """ssl: true gives an SSL connection with the CA, the client certificate and host name checking."""
        settings = RedisSettings(host="r1", port=6380, ssl=True, ssl_ca_certs="/tls/ca.pem",
                                 ssl_certfile="/tls/client.pem", ssl_keyfile="/tls/client.key",
                                 ssl_password=Secret("k3y"))
        client = connect(settings)
        assert client.connection_pool.connection_class is redis.SSLConnection
        kwargs = connection_kwargs(settings)
        assert (kwargs["ssl_ca_certs"], kwargs["ssl_certfile"], kwargs["ssl_keyfile"]) == (
            "/tls/ca.pem", "/tls/client.pem", "/tls/client.key")
        assert kwargs["ssl_password"] == "k3y"
        assert kwargs["ssl_check_hostname"] is True

    def test_a_rediss_url_takes_the_tls_settings_too(self) -> None:
        """The url says TLS; the files come from the section."""
        settings = RedisSettings(url="rediss://r1:6380/0", ssl_ca_certs="/tls/ca.pem", ssl_check_hostname=False)
        assert connect(settings).connection_pool.connection_class is redis.SSLConnection
        assert connection_kwargs(settings)["ssl_check_hostname"] is False

    def test_no_tls_options_without_tls(self) -> None:
        """A plain connection class refuses them, so none are passed."""
        assert tls_options(RedisSettings(url="redis://r1/0")) == {}
        assert "ssl_check_hostname" not in connection_kwargs(RedisSettings(host="r1"))


class TestDescribe:
    def test_a_tls_failure_names_where_and_why(self, tmp_path: Path) -> None:
        """redis-py's ConnectionError quoting OpenSSL becomes the cause in words, with the (masked) address."""
        settings = RedisSettings(url="rediss://app:pw-1234@r1:6380/0", ssl_ca_certs=str(tmp_path / "ca.pem"))
        (tmp_path / "ca.pem").write_text("")
        try:
            try:
                raise ssl.SSLCertVerificationError(1, WRONG_CA)
            except ssl.SSLError as exc:
                raise redis.ConnectionError(f"Error 1 connecting to r1:6380. {WRONG_CA}.") from exc
        except redis.ConnectionError as error:
            text = describe(error, settings)
        assert text == ("ConnectionError: TLS with rediss://app:***@r1:6380/0 failed: the Redis server's certificate "
                        f"is not signed by the CA in ssl_ca_certs {tmp_path / 'ca.pem'} (certificate verify failed: "
                        "self-signed certificate in certificate chain)")

    def test_other_errors_keep_their_name(self) -> None:
        """An authentication error, or any error on a plain connection, is `Name: message`."""
        assert describe(redis.AuthenticationError("invalid username-password pair")) == (
            "AuthenticationError: invalid username-password pair")
        refused = redis.ConnectionError("Error 111 connecting to r1:6379. Connection refused.")
        assert describe(refused, RedisSettings(host="r1")) == (
            "ConnectionError: Error 111 connecting to r1:6379. Connection refused.")
