"""Secrets are printed as `***` wherever karafkad prints settings, problems or commands' output.

The passwords here are unique per test so that an accidental match elsewhere cannot hide a leak.
"""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path

import pytest

from karafkad.cli.inspection import check, explain, routes_table
from karafkad.config.loading import load_config
from karafkad.config.secrets import MASK, Secret, SecretRegistry, mask_url, redact, registry
from karafkad.config.settings import KafkaSettings, RedisSettings
from karafkad.errors import ConfigError


def secret() -> str:
    return f"pw-{uuid.uuid4().hex[:12]}"


def write(tmp_path: Path, document: dict[str, object] | str) -> Path:
    (tmp_path / "handlers").mkdir(exist_ok=True)
    (tmp_path / "handlers" / "kd_red.py").write_text("def handle(params):\n    return params\n")
    path = tmp_path / "routes.yaml"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def routes_with(**sections: object) -> dict[str, object]:
    return {**sections, "groups": {"g": {"routes": [{"topic": "t", "handler": "kd_red.handle", "on_error": "skip"}]}}}


def problems_text(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ or {})
    return str(info.value)


class TestMaskUrl:
    @pytest.mark.parametrize(("url", "masked"), [
        ("redis://app:s3cr3t@r1:6380/2", "redis://app:***@r1:6380/2"),
        ("rediss://:s3cr3t@r1/0", "rediss://:***@r1/0"),
        ("redis://app:p@ss@r1/0", "redis://app:***@r1/0"),
        ("redis://r1:6379/0?password=s3cr3t&db=1", "redis://r1:6379/0?password=***&db=1"),
        ("redis://r1:6379/0", "redis://r1:6379/0"),
        ("see redis://u:s3cr3t@h:1/0 and kafka://x:y3s@h", "see redis://u:***@h:1/0 and kafka://x:***@h"),
    ])
    def test_url_passwords_are_masked_anywhere_in_text(self, url: str, masked: str) -> None:
        """user:password@ and password= in a query are masked; the rest of the URL stays readable."""
        assert mask_url(url) == masked


class TestSecretRegistry:
    def test_every_secret_is_remembered_and_redacted_inside_text(self) -> None:
        """Making a Secret remembers its value; redact() masks it anywhere in a text."""
        value = secret()
        assert value not in registry.snapshot()
        Secret(value)
        assert value in registry.snapshot()
        assert redact(f"login failed for {value}!") == f"login failed for {MASK}!"

    def test_a_secret_that_contains_another_is_masked_whole(self) -> None:
        """The longest match wins, so no tail of a longer secret is left showing."""
        own = SecretRegistry()
        own.remember_all(["abc-123", "abc-123-long-tail"])
        assert own.mask("x abc-123-long-tail y") == f"x {MASK} y"

    def test_snapshot_and_restore_forget_what_came_in_between(self) -> None:
        """Tests restore the registry, so one test's password never masks another test's text."""
        own = SecretRegistry()
        own.remember("kept-secret")
        before = own.snapshot()
        own.remember("later-secret")
        own.restore(before)
        assert own.mask("kept-secret later-secret") == f"{MASK} later-secret"

    def test_very_short_secrets_are_not_masked_inside_other_text(self) -> None:
        """A two-character secret would garble every line; it still prints as *** as a setting."""
        short = Secret("x9")
        assert str(short) == MASK
        assert redact("x9 and x99") == "x9 and x99"


class TestSettingsDescriptions:
    def test_redis_url_password_is_masked_in_describe_and_repr(self) -> None:
        """RedisSettings.describe() and repr() mask a password written inside the URL."""
        value = secret()
        settings = RedisSettings(url=f"redis://app:{value}@r1:6379/0", password=Secret(value))
        assert settings.describe() == "redis://app:***@r1:6379/0"
        assert value not in repr(settings) and value not in str(settings)

    def test_kafka_describe_masks_the_sasl_and_ssl_passwords(self) -> None:
        """KafkaSettings.describe() (logs, /status.json) shows *** for every password."""
        sasl, ssl = secret(), secret()
        settings = KafkaSettings(security={"sasl_plain_password": Secret(sasl), "ssl_password": Secret(ssl),
                                           "sasl_plain_username": "karafkad"})
        described = json.dumps(settings.describe())
        assert sasl not in described and ssl not in described
        assert settings.describe()["sasl_plain_password"] == MASK
        assert settings.client_options()["sasl_plain_password"] == sasl  # the client still gets it
        assert sasl not in repr(settings)


class TestProblemMessages:
    @pytest.mark.parametrize(("section", "key"), [("kafka", "sasl_plain_password"), ("kafka", "ssl_password"),
                                                  ("redis", "password")])
    def test_a_mistyped_password_is_not_quoted(self, tmp_path: Path, section: str, key: str) -> None:
        """`password: 12345678` (a number, not a string) is reported by type only."""
        kafka = {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_plain_username": "u",
                 "sasl_plain_password": "x"}
        extra: dict[str, object] = kafka if section == "kafka" else {}
        text = problems_text(write(tmp_path, routes_with(**{section: {**extra, key: 918273645}})))
        assert "918273645" not in text
        assert f"{section}.{key}: expected a string, got integer (***)" in text

    def test_a_short_mistyped_password_is_not_quoted_either(self, tmp_path: Path) -> None:
        """However short: the problem names its type, never its value."""
        text = problems_text(write(tmp_path, routes_with(redis={"password": [42]})))
        assert "42" not in text
        assert "redis.password: expected a string, got list (***)" in text

    def test_a_password_from_the_environment_is_not_quoted(self, tmp_path: Path) -> None:
        """`password: ${REDIS_PASSWORD}` whose value reads as a number is reported without the value."""
        text = problems_text(write(tmp_path, "redis:\n  password: ${REDIS_PASSWORD}\n" + ROUTE),
                             {"REDIS_PASSWORD": "31415926535"})
        assert "31415926535" not in text
        assert "got integer (***) (the value after substituting environment variables)" in text

    def test_a_redis_url_with_a_password_in_a_problem_is_masked(self, tmp_path: Path) -> None:
        """A URL that breaks the pattern is quoted with its password masked (before it is clipped)."""
        value = "verylongpassword" * 4
        text = problems_text(write(tmp_path, routes_with(redis={"url": f"http://app:{value}@r1:6379/0"})))
        assert "verylongpassword" not in text
        assert "'http://app:***@r1:6379/0' is not valid here" in text

    def test_a_password_that_cannot_be_read_is_not_quoted(self, tmp_path: Path) -> None:
        """A YAML value under a password key that fails to construct (`!!int`) is not quoted."""
        text = problems_text(write(tmp_path, "redis:\n  password: !!int hunter2hunter2\n" + ROUTE))
        assert "hunter2" not in text
        assert "not shown: a secret" in text

    def test_the_secret_repeated_elsewhere_in_the_file_is_masked(self, tmp_path: Path) -> None:
        """A password also pasted where it breaks another rule is masked there too."""
        value = secret()
        text = problems_text(write(tmp_path, routes_with(redis={"password": value}, daemon={"log_level": value})))
        assert value not in text
        assert "daemon.log_level: '***' is not one of" in text


ROUTE = "groups:\n  g:\n    routes:\n      - {topic: t, handler: kd_red.handle, on_error: skip}\n"


class TestCommandOutput:
    @pytest.fixture
    def passwords(self, tmp_path: Path) -> tuple[Path, list[str]]:
        sasl, redis_password = secret(), secret()
        path = write(tmp_path, routes_with(
            kafka={"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
                   "sasl_plain_username": "karafkad", "sasl_plain_password": sasl},
            redis={"url": f"redis://karafkad:{redis_password}@127.0.0.1:6379/0"}))
        return path, [sasl, redis_password]

    def test_check_routes_and_explain_never_print_a_password(self, passwords: tuple[Path, list[str]],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
        """`karafkad check`, `routes` and `explain` on a file with SASL and Redis passwords print neither."""
        path, values = passwords
        assert check(path) == 0
        assert routes_table(path) == 0
        args = argparse.Namespace(config=path, topic="t", value='{"n": 1}', file=None, tombstone=False, key="k",
                                  header=["h=v"], partition=0, offset=0)
        assert explain(args) == 0
        out = capsys.readouterr()
        for value in values:
            assert value not in out.out + out.err
        assert "OK: 1 group" in out.out

    def test_check_errors_never_print_a_password(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A failing `karafkad check` lists its problems without the passwords."""
        value = secret()
        path = write(tmp_path, routes_with(redis={"url": f"http://u:{value}@h/0", "password": value},
                                           kafka={"sasl_plain_password": value}))
        assert check(path) == 1
        out = capsys.readouterr()
        assert value not in out.out + out.err
        assert "found" in out.err and "redis.url: 'http://u:***@h/0' is not valid here" in out.err


class TestSecret:
    def test_prints_masked(self) -> None:
        """str and repr never show the value."""
        secret = Secret("hunter2")
        assert str(secret) == "***"
        assert repr(secret) == "Secret('***')"
        assert f"{secret}" == "***"

    def test_reveal_equality_and_hash(self) -> None:
        """The value is available on purpose only; equal secrets compare and hash equal."""
        assert Secret("a").reveal() == "a"
        assert Secret("a") == Secret("a")
        assert Secret("a") != Secret("b")
        assert Secret("a") != "a"
        assert len({Secret("a"), Secret("a")}) == 1
