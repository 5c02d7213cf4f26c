"""Where jobs go: Redis behind Sentinel, replica acknowledgements, and a group's own Redis."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from karafkad.config.loading import load_config
from karafkad.config.secrets import Secret
from karafkad.config.settings import Config, RedisSettings, SentinelSettings
from karafkad.errors import ConfigError, Problem

SENTINELS = """\
redis:
  sentinel:
    sentinels: [s1:26379, 's2:26380']
    master: mymaster
    username: watcher
    password: ${SENTINEL_PW}
  password: ${REDIS_PW}
  min_replicas_acked: 1
  replica_ack_timeout_ms: 250
"""

TWO_GROUPS = """\
redis:
  url: redis://main:6379/0
groups:
  light:
    routes:
      - topic: clicks
        handler: h.f
        queue: clicks
  heavy:
    redis:
      url: redis://heavy:6379/1
    routes:
      - topic: orders
        handler: h.f
        queue: orders
      - topic: refunds
        handler: h.f
        queue: orders
"""

ROUTE = """\
groups:
  g:
    routes:
      - topic: t
        handler: h.f
"""


def load(folder: Path, text: str, environ: dict[str, str] | None = None) -> Config:
    (folder / "handlers").mkdir(exist_ok=True)
    path = folder / "routes.yaml"
    path.write_text(textwrap.dedent(text))
    return load_config(path, environ or {})


def problems(folder: Path, text: str) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load(folder, text)
    return info.value.problems


class TestSentinel:
    def test_sentinels_master_and_both_credentials(self, tmp_path: Path) -> None:
        """The sentinels' own credentials and the primary's are kept apart, both as secrets."""
        redis = load(tmp_path, SENTINELS + ROUTE, {"SENTINEL_PW": "s3cret", "REDIS_PW": "r3dis"}).redis
        assert redis.sentinel == SentinelSettings((("s1", 26379), ("s2", 26380)), "mymaster", "watcher",
                                                  Secret("s3cret"))
        assert redis.password == Secret("r3dis")
        assert (redis.min_replicas_acked, redis.replica_ack_timeout_ms) == (1, 250)
        assert redis.describe() == "sentinel mymaster via s1:26379,s2:26380 db 0"
        assert "s3cret" not in repr(redis) and "r3dis" not in repr(redis)

    def test_sentinels_as_one_comma_separated_string(self, tmp_path: Path) -> None:
        """`a:1, b:2` works as in kafka.bootstrap_servers (an environment variable holds one string)."""
        text = "redis:\n  sentinel:\n    sentinels: ${SENTINELS}\n    master: m\n" + ROUTE
        redis = load(tmp_path, text, {"SENTINELS": "10.0.0.1:26379, 10.0.0.2:26379"}).redis
        assert redis.sentinel is not None
        assert redis.sentinel.addresses == (("10.0.0.1", 26379), ("10.0.0.2", 26379))
        assert redis.sentinel.password is None

    def test_defaults_commit_on_the_primarys_word(self, tmp_path: Path) -> None:
        """Without min_replicas_acked nothing waits for replicas (Redis's own default behaviour)."""
        redis = load(tmp_path, ROUTE).redis
        assert (redis.sentinel, redis.min_replicas_acked, redis.replica_ack_timeout_ms) == (None, 0, 1000)

    @pytest.mark.parametrize(("sentinel", "path", "message"), [
        ("sentinels: [s1]\n    master: m", "redis.sentinel.sentinels[0]", "'s1' is not valid here"),
        ("sentinels: []\n    master: m", "redis.sentinel.sentinels", "must not be empty"),
        ("sentinels: [s1:26379]", "redis.sentinel", "missing required key 'master'"),
        ("sentinels: [s1:26379]\n    master: m\n    pasword: x", "redis.sentinel.pasword",
         "did you mean 'password'?"),
    ])
    def test_invalid_sentinel_settings(self, tmp_path: Path, sentinel: str, path: str, message: str) -> None:
        """A bad sentinel setting is reported at its key."""
        found = problems(tmp_path, f"redis:\n  sentinel:\n    {sentinel}\n" + ROUTE)
        assert [p.path for p in found] == [path], found
        assert message in found[0].message

    @pytest.mark.parametrize("key", ["url: redis://r1/0", "host: r1", "port: 6380"])
    def test_sentinel_and_an_address_are_not_both_allowed(self, tmp_path: Path, key: str) -> None:
        """The sentinels say where the primary is: an address beside them would be ignored, so it is an error."""
        found = problems(tmp_path, f"redis:\n  {key}\n  sentinel:\n    sentinels: [s:1]\n    master: m\n" + ROUTE)
        name = key.split(":", maxsplit=1)[0]
        assert [(p.path, p.line) for p in found] == [(f"redis.{name}", 2)], found
        assert f"`sentinel` finds the primary, so `{name}` would be ignored" in found[0].message

    def test_a_groups_redis_with_two_addresses_is_reported_at_the_group(self, tmp_path: Path) -> None:
        found = problems(tmp_path, TWO_GROUPS.replace("      url: redis://heavy:6379/1\n",
                                                      "      url: redis://heavy:6379/1\n      port: 1\n"))
        assert [p.path for p in found] == ["groups.heavy.redis.port"], found
        assert "`url` already says where Redis is" in found[0].message

    @pytest.mark.parametrize(("text", "path"), [
        ("redis:\n  min_replicas_acked: -1\n", "redis.min_replicas_acked"),
        ("redis:\n  replica_ack_timeout_ms: 0\n", "redis.replica_ack_timeout_ms"),
    ])
    def test_invalid_acknowledgement_settings(self, tmp_path: Path, text: str, path: str) -> None:
        found = problems(tmp_path, text + ROUTE)
        assert [p.path for p in found] == [path], found


class TestRedisPerGroup:
    def test_each_group_writes_to_its_own_or_the_top_level_redis(self, tmp_path: Path) -> None:
        """A group's `redis` takes its jobs, queues and marks; the others use the top-level one."""
        config = load(tmp_path, TWO_GROUPS)
        main, heavy = RedisSettings(url="redis://main:6379/0"), RedisSettings(url="redis://heavy:6379/1")
        assert config.redis_for("light") == main
        assert config.redis_for("heavy") == heavy
        assert config.redises() == [main, heavy]
        assert config.queue_redis() == {"clicks": main, "orders": heavy}

    def test_a_groups_redis_takes_every_top_level_key(self, tmp_path: Path) -> None:
        """The same section, sentinel and replica acknowledgements included."""
        text = TWO_GROUPS.replace("      url: redis://heavy:6379/1\n",
                                  "      sentinel: {sentinels: 's:26379', master: heavy}\n"
                                  "      min_replicas_acked: 1\n")
        heavy = load(tmp_path, text).redis_for("heavy")
        assert heavy.sentinel is not None and heavy.sentinel.master == "heavy"
        assert heavy.min_replicas_acked == 1

    def test_two_groups_naming_the_same_redis_share_it(self, tmp_path: Path) -> None:
        """Equal sections are one Redis (one client, one queue gate)."""
        text = TWO_GROUPS.replace("  light:\n", "  light:\n    redis:\n      url: redis://heavy:6379/1\n")
        config = load(tmp_path, text)
        assert config.redises() == [RedisSettings(url="redis://main:6379/0"), RedisSettings(url="redis://heavy:6379/1")]

    def test_one_queue_fed_from_two_redis_servers_is_refused(self, tmp_path: Path) -> None:
        """A queue in two Redis servers would be two queues, one of them never worked: an error at the group."""
        text = TWO_GROUPS.replace("        queue: clicks", "        queue: orders")
        found = problems(tmp_path, text)
        assert [p.path for p in found] == ["groups.heavy.redis"], found
        assert ("queue 'orders' gets jobs in the Redis of group 'heavy' (redis://heavy:6379/1) "
                "and in that of group 'light'") in found[0].message
        assert "give the groups' routes different queues" in found[0].message

    def test_an_unknown_key_in_a_groups_redis(self, tmp_path: Path) -> None:
        found = problems(tmp_path, TWO_GROUPS.replace("url: redis://heavy", "ur: redis://heavy"))
        assert "groups.heavy.redis.ur" in [p.path for p in found], found
