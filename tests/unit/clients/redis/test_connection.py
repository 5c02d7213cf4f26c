"""Redis clients get the routes file's TLS settings, and a Redis TLS failure reads as its cause."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import redis

from karafkad.clients.redis.connection import connect, describe, tls_options
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


class TestSentinel:
    def test_a_sentinel_client_asks_the_sentinels_for_the_named_primary(self) -> None:
        """The client's pool finds the primary through the sentinels (at each new connection), with the
        primary's credentials; the sentinels get their own."""
        from karafkad.config.settings import SentinelSettings

        settings = RedisSettings(db=2, username="app", password=Secret("r3dis"), socket_timeout=1.5,
                                 sentinel=SentinelSettings((("s1", 26379), ("s2", 26380)), "shop", "watcher",
                                                           Secret("s3cret")))
        client = connect(settings)
        pool = client.connection_pool
        assert isinstance(pool, redis.sentinel.SentinelConnectionPool)
        assert pool.service_name == "shop"
        assert pool.is_master
        kwargs = pool.connection_kwargs
        assert (kwargs["db"], kwargs["username"], kwargs["password"]) == (2, "app", "r3dis")
        sentinels = pool.sentinel_manager.sentinels
        assert [s.connection_pool.connection_kwargs["host"] for s in sentinels] == ["s1", "s2"]
        assert [s.connection_pool.connection_kwargs["port"] for s in sentinels] == [26379, 26380]
        own = sentinels[0].connection_pool.connection_kwargs
        assert (own["username"], own["password"], own["socket_timeout"]) == ("watcher", "s3cret", 1.5)
        assert "r3dis" not in settings.describe()

    def test_a_reply_cut_short_closes_the_sentinel_connection(self) -> None:
        """An exception while a reply is read (RQ's warm shutdown raises one inside BLPOP) closes the
        connection, so no later command reads the stale reply (redis-py keeps it open on Sentinel)."""
        import socket

        from karafkad.config.settings import SentinelSettings

        class Interrupted(BaseException):
            pass

        def interrupted(*args: object, **kwargs: object) -> None:
            raise Interrupted

        settings = RedisSettings(sentinel=SentinelSettings((("127.0.0.1", 9),), "shop"))
        connection = connect(settings).connection_pool.make_connection()
        ours, theirs = socket.socketpair()
        connection._sock = ours
        connection._parser.on_connect(connection)
        connection._parser.read_response = interrupted
        try:
            with pytest.raises(Interrupted):
                connection.read_response()
            assert connection._sock is None
        finally:
            theirs.close()
