"""config/settings.py: the typed settings and what they answer beyond their fields (client options, masked
descriptions, which Redis a group writes to, which topics are gathered)."""

from __future__ import annotations

from pathlib import Path

from routes_files import TWO_GROUPS, load, route

from karafkad import defaults
from karafkad.config.secrets import Secret
from karafkad.config.settings import (
    BatchOptions,
    BatchSize,
    GroupSpec,
    JobOptions,
    KafkaSettings,
    RedisSettings,
    RouteSpec,
    SentinelSettings,
)


def _route(name: str, *topics: str, batch: BatchOptions | None = None, ordering: str = "none",
           queue: str = "q") -> RouteSpec:
    """A route of group `g` as loading would make it, with what the tests below vary."""
    return RouteSpec("g", 0, name, topics, "h.f", queue, JobOptions(), batch=batch,
                     ordering=ordering)  # type: ignore[arg-type]


class TestKafkaSettings:
    def test_client_options_reveal_the_secrets_kafka_python_needs(self) -> None:
        """The servers as a list, the client id, and each security option under its own name, passwords
        revealed (kafka-python takes them as text)."""
        kafka = KafkaSettings(("k1:9092", "k2:9092"), "shop", {"security_protocol": "SASL_SSL",
                                                                "sasl_plain_password": Secret("pw")})
        assert kafka.client_options() == {"bootstrap_servers": ["k1:9092", "k2:9092"], "client_id": "shop",
                                          "security_protocol": "SASL_SSL", "sasl_plain_password": "pw"}

    def test_describe_masks_every_secret(self) -> None:
        """What `check`, the logs and the status page show: the same keys, each Secret as ***."""
        kafka = KafkaSettings(security={"ssl_password": Secret("pw"), "ssl_check_hostname": False})
        assert kafka.describe() == {"bootstrap_servers": [defaults.BOOTSTRAP_SERVERS], "client_id": defaults.CLIENT_ID,
                                    "ssl_password": "***", "ssl_check_hostname": False}


class TestRedisSettings:
    def test_tls_follows_the_url_scheme_or_ssl(self) -> None:
        """A url decides by its scheme (rediss://), whatever `ssl` says; without a url, `ssl` does."""
        assert RedisSettings(url="rediss://r/0").tls and not RedisSettings(url="redis://r/0", ssl=True).tls
        assert RedisSettings(ssl=True).tls and not RedisSettings().tls

    def test_describe_says_where_redis_is_with_the_password_masked(self) -> None:
        """A url with its password masked; host settings as a url; the sentinels and the master's name."""
        assert RedisSettings(url="redis://app:pw@r1:6379/2").describe() == "redis://app:***@r1:6379/2"
        assert RedisSettings(host="r1", port=6380, db=3, username="app", password=Secret("pw"), ssl=True
                             ).describe() == "rediss://app:***@r1:6380/3"
        assert RedisSettings(host="r1").describe() == "redis://r1:6379/0"
        sentinel = SentinelSettings((("s1", 26379), ("s2", 26380)), "primary")
        assert RedisSettings(sentinel=sentinel, db=1).describe() == "sentinel primary via s1:26379,s2:26380 db 1"

    def test_repr_masks_a_password_inside_the_url(self) -> None:
        """The generated repr would print the url whole; this one masks its password, and keeps the other fields."""
        text = repr(RedisSettings(url="redis://app:hunter2@r1/0", socket_timeout=2.5))
        assert "hunter2" not in text
        assert text.startswith("RedisSettings(url='redis://app:***@r1/0', host='127.0.0.1'")
        assert "socket_timeout=2.5" in text


class TestJobOptions:
    def test_at_path_is_the_field_below_params(self) -> None:
        """`params.order.due` -> ("order", "due"); no `at`, no path."""
        assert JobOptions(at="params.order.due").at_path == ("order", "due")
        assert JobOptions().at_path == ()


class TestRouteSpec:
    def test_ordered_unless_ordering_is_none(self) -> None:
        """Key and partition ordering are ordered; the default is not."""
        assert [_route("r", "t", ordering=o).ordered for o in ("none", "key", "partition")] == [False, True, True]

    def test_path_is_where_the_route_is_written(self) -> None:
        """groups.GROUP.routes[INDEX], for the problems about it."""
        assert _route("r", "t").path == ("groups", "g", "routes", 0)


class TestGroupSpec:
    def test_gathered_topics_take_the_smallest_size_of_their_sized_batch_routes(self) -> None:
        """Only sized batch routes gather; a topic's batches are the smallest max_messages and the smallest
        max_wait among them (taken apart: here 50 messages and 0.2 s, from two routes)."""
        group = GroupSpec("g", (
            _route("big", "t", "u", batch=BatchOptions(BatchSize(100, 0.2))),
            _route("small", "t", batch=BatchOptions(BatchSize(50, 5.0))),
            _route("per-poll", "t", "v", batch=BatchOptions()),
            _route("each", "w")))
        assert group.gathered() == {"t": BatchSize(50, 0.2), "u": BatchSize(100, 0.2)}

    def test_topics_of_a_group_in_first_mentioned_order(self, tmp_path: Path) -> None:
        """GroupSpec.topics lists each topic once."""
        group = load(tmp_path, """\
            groups:
              g:
                routes:
                  - {topics: [b, a], handler: h.f}
                  - {topic: c, handler: h.f}
                  - {topic: a, handler: h.g}
            """).groups[0]
        assert group.topics == ("b", "a", "c")


class TestConfig:
    def test_queues_on_a_redis_and_the_ordered_ones(self, tmp_path: Path) -> None:
        """queues_on lists the queues written to a Redis, sorted; ordered_queues_on those of ordered routes."""
        config = load(tmp_path, TWO_GROUPS.replace("        queue: clicks", "        queue: clicks\n"
                                                                           "        ordering: key"))
        main, heavy = config.redises()
        assert (config.queues_on(main), config.queues_on(heavy)) == (["clicks"], ["orders"])
        assert (config.ordered_queues_on(main), config.ordered_queues_on(heavy)) == (["clicks"], [])

    def test_routes_are_every_group_s_in_order_and_base_dir_is_the_file_s_folder(self, tmp_path: Path) -> None:
        """The groups' routes in file order; relative paths of the file are relative to its folder."""
        config = load(tmp_path, TWO_GROUPS)
        assert [(r.group, r.topics) for r in config.routes] == [("light", ("clicks",)), ("heavy", ("orders",)),
                                                                ("heavy", ("refunds",))]
        assert config.base_dir == tmp_path

    def test_an_unknown_group_writes_to_the_top_level_redis(self, tmp_path: Path) -> None:
        """redis_for a group the file does not have (a group removed by a reload) is the top-level Redis."""
        config = load(tmp_path, route())
        assert config.redis_for("gone") == config.redis == RedisSettings()

    def test_each_group_writes_to_its_own_or_the_top_level_redis(self, tmp_path: Path) -> None:
        """A group's `redis` takes its jobs, queues and marks; the others use the top-level one."""
        config = load(tmp_path, TWO_GROUPS)
        main, heavy = RedisSettings(url="redis://main:6379/0"), RedisSettings(url="redis://heavy:6379/1")
        assert config.redis_for("light") == main
        assert config.redis_for("heavy") == heavy
        assert config.redises() == [main, heavy]
        assert config.queue_redis() == {"clicks": main, "orders": heavy}

    def test_two_groups_naming_the_same_redis_share_it(self, tmp_path: Path) -> None:
        """Equal sections are one Redis (one client, one queue gate)."""
        text = TWO_GROUPS.replace("  light:\n", "  light:\n    redis:\n      url: redis://heavy:6379/1\n")
        config = load(tmp_path, text)
        assert config.redises() == [RedisSettings(url="redis://main:6379/0"), RedisSettings(url="redis://heavy:6379/1")]
