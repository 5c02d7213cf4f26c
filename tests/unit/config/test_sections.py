"""config/sections.py: one section of the routes file given as keyword arguments (the producer API's)."""

from __future__ import annotations

import pytest

from karafkad.config.secrets import Secret
from karafkad.config.sections import kafka_settings, registry_settings


class TestKafkaSettings:
    """kafka_settings: the `kafka` section as keyword arguments, checked as the routes file checks it."""

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


class TestRegistrySettings:
    """registry_settings: the `schema_registry` section as keyword arguments, checked as the file checks it."""

    def test_the_keys_become_settings_with_the_password_a_secret(self) -> None:
        """url, user and password are kept; the password is a Secret, never in the settings' repr."""
        settings = registry_settings(url="https://sr:8081", username="kd", password="s3cret", timeout=2)
        assert (settings.url, settings.username, settings.timeout) == ("https://sr:8081", "kd", 2)
        assert settings.password == Secret("s3cret") and "s3cret" not in repr(settings)

    def test_an_unknown_key_is_refused_with_a_suggestion(self) -> None:
        """A typo is a ValueError naming the key and the likely meant one."""
        with pytest.raises(ValueError, match=r"unknown key 'usrname' \(did you mean 'username'\?\)"):
            registry_settings(url="http://sr", usrname="kd")

    def test_a_url_is_required_and_must_be_http(self) -> None:
        """Without a url, or with one that is not http(s), the section is refused."""
        with pytest.raises(ValueError, match="url"):
            registry_settings(username="kd")
        with pytest.raises(ValueError, match="url"):
            registry_settings(url="ftp://sr")
