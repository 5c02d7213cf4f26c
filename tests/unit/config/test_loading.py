"""config/loading.py: the routes file's sections read into settings, with their defaults, and the problems of a
file that does not load, all at once (the rules spanning several values are tests/unit/config/test_checks.py's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from routes_files import ROUTE, TWO_GROUPS, load, only, problems, route, tls_files

from karafkad import defaults
from karafkad.config.loading import load_config
from karafkad.config.secrets import Secret
from karafkad.config.settings import BatchOptions, BatchSize, KafkaSettings, RedisSettings, SentinelSettings
from karafkad.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "routes.yaml"

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
"""A Redis behind Sentinel, with the sentinels' credentials and the primary's, and replica acknowledgements."""


class TestKafka:
    def test_defaults_without_a_kafka_section(self, tmp_path: Path) -> None:
        """No kafka section: the local broker, client id karafkad, no security options."""
        kafka = load(tmp_path, ROUTE).kafka
        assert kafka == KafkaSettings((defaults.BOOTSTRAP_SERVERS,), defaults.CLIENT_ID, {})

    def test_bootstrap_servers_as_comma_separated_text(self, tmp_path: Path) -> None:
        """`a:1, b:2` is split into servers, spaces and empty items dropped."""
        kafka = load(tmp_path, route(head="kafka:\n  bootstrap_servers: 'k1:9092, k2:9092,'\n")).kafka
        assert kafka.bootstrap_servers == ("k1:9092", "k2:9092")

    def test_bootstrap_servers_as_a_list(self, tmp_path: Path) -> None:
        """A YAML list is used as is."""
        kafka = load(tmp_path, route(head="kafka:\n  bootstrap_servers: [k1:9092, k2:9093]\n")).kafka
        assert kafka.client_options()["bootstrap_servers"] == ["k1:9092", "k2:9093"]

    def test_empty_bootstrap_servers_are_refused(self, tmp_path: Path) -> None:
        """An empty string or list is an error."""
        assert only(tmp_path, route(head="kafka:\n  bootstrap_servers: []\n")).path == "kafka.bootstrap_servers"

    def test_ssl_options_pass_through(self, tmp_path: Path) -> None:
        """SSL settings reach kafka-python under their own names (file paths made absolute); the key password
        is revealed only there."""
        tls = tls_files(tmp_path)
        kafka = load(tmp_path, route(head=f"""\
            kafka:
              client_id: shop
              security_protocol: SSL
              ssl_cafile: {tls / "ca.pem"}
              ssl_certfile: tls/client.pem
              ssl_keyfile: tls/client.key
              ssl_password: ${{KEY_PASSWORD}}
              ssl_check_hostname: false
              request_timeout_ms: 40000
            """), {"KEY_PASSWORD": "s3cret"}).kafka
        options = kafka.client_options()
        assert options == {"bootstrap_servers": ["127.0.0.1:9092"], "client_id": "shop", "security_protocol": "SSL",
                           "ssl_cafile": str(tls / "ca.pem"), "ssl_certfile": str(tls / "client.pem"),
                           "ssl_keyfile": str(tls / "client.key"), "ssl_password": "s3cret",
                           "ssl_check_hostname": False, "request_timeout_ms": 40000}
        assert isinstance(kafka.security["ssl_password"], Secret)
        assert kafka.describe()["ssl_password"] == "***"

    @pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
    def test_sasl_options_pass_through(self, tmp_path: Path, mechanism: str) -> None:
        """SASL PLAIN and SCRAM settings pass through; the password is a Secret until handed over."""
        kafka = load(tmp_path, route(head=f"""\
            kafka:
              security_protocol: SASL_SSL
              sasl_mechanism: {mechanism}
              sasl_plain_username: karafkad
              sasl_plain_password: pw
            """)).kafka
        assert kafka.client_options()["sasl_mechanism"] == mechanism
        assert kafka.client_options()["sasl_plain_password"] == "pw"
        assert "pw" not in repr(kafka)
        assert "pw" not in str(kafka.describe())

    @pytest.mark.parametrize(("text", "path", "message"), [
        ("kafka:\n  bootstrap_server: k:9092\n", "kafka.bootstrap_server", "did you mean 'bootstrap_servers'?"),
        ("kafka:\n  security_protocol: TLS\n", "kafka.security_protocol", "'TLS' is not one of"),
        ("kafka:\n  sasl_mechanism: GSSAPI\n", "kafka.sasl_mechanism", "'GSSAPI' is not one of"),
        ("kafka:\n  request_timeout_ms: 10\n", "kafka.request_timeout_ms", "must be >= 1000"),
        ("kafka: [k1]\n", "kafka", "expected a mapping, got list"),
    ])
    def test_invalid_kafka_settings(self, tmp_path: Path, text: str, path: str, message: str) -> None:
        """Unknown keys, bad enums, ranges and shapes name the key."""
        problem = only(tmp_path, route(head=text))
        assert problem.path == path
        assert message in problem.message


class TestRedis:
    def test_defaults_without_a_redis_section(self, tmp_path: Path) -> None:
        """No redis section: 127.0.0.1:6379, db 0, no password, the default dedupe window."""
        redis = load(tmp_path, ROUTE).redis
        assert redis == RedisSettings()
        assert redis.describe() == "redis://127.0.0.1:6379/0"
        assert redis.dedupe_window == defaults.DEDUPE_WINDOW

    def test_url(self, tmp_path: Path) -> None:
        """A url is kept as written; its password is masked when described."""
        redis = load(tmp_path, route(head="redis:\n  url: rediss://app:pw@r1:6380/2\n")).redis
        assert redis.url == "rediss://app:pw@r1:6380/2"
        assert redis.describe() == "rediss://app:***@r1:6380/2"

    def test_url_with_separate_credentials(self, tmp_path: Path) -> None:
        """username and password may sit beside a url (to keep the secret out of it)."""
        redis = load(tmp_path, route(head="redis:\n  url: redis://r1/0\n  username: app\n  password: ${PW}\n"),
                     {"PW": "pw"}).redis
        assert redis.username == "app"
        assert redis.password == Secret("pw")

    def test_host_port_db_password_ssl(self, tmp_path: Path) -> None:
        """The separate settings; the password becomes a Secret that prints ***."""
        tls_files(tmp_path)
        redis = load(tmp_path, route(head="""\
            redis:
              host: r1
              port: 6380
              db: 3
              username: app
              password: hunter2
              ssl: true
              ssl_ca_certs: tls/ca.pem
              socket_timeout: 2.5
              require_durable: true
              dedupe_window: 86400
            """)).redis
        ca = str(tmp_path / "tls" / "ca.pem")
        assert (redis.host, redis.port, redis.db, redis.ssl, redis.ssl_ca_certs) == ("r1", 6380, 3, True, ca)
        assert (redis.socket_timeout, redis.require_durable, redis.dedupe_window) == (2.5, True, 86400)
        assert isinstance(redis.password, Secret)
        assert str(redis.password) == "***"
        assert "hunter2" not in repr(redis)
        assert redis.describe() == "rediss://app:***@r1:6380/3"

    @pytest.mark.parametrize(("text", "path", "message"), [
        ("redis:\n  url: http://r1\n", "redis.url", "is not valid here"),
        ("redis:\n  port: 0\n", "redis.port", "must be >= 1"),
        ("redis:\n  port: '6379'\n", "redis.port", "expected an integer, got string '6379'"),
        ("redis:\n  dedupe_window: 10\n", "redis.dedupe_window", "must be >= 60"),
        ("redis:\n  socket_timeout: 0\n", "redis.socket_timeout", "must be > 0"),
        ("redis:\n  pasword: x\n", "redis.pasword", "did you mean 'password'?"),
        ("redis:\n  password: ${PW:}\n", "redis.password",
         "expected a string, got null (the value after substituting environment variables)"),
    ])
    def test_invalid_redis_settings(self, tmp_path: Path, text: str, path: str, message: str) -> None:
        """Each bad Redis setting is reported at its key."""
        problem = only(tmp_path, route(head=text))
        assert problem.path == path
        assert message in problem.message

    def test_an_unknown_key_in_a_groups_redis(self, tmp_path: Path) -> None:
        """A group's `redis` is checked key by key like the top-level one."""
        found = problems(tmp_path, TWO_GROUPS.replace("url: redis://heavy", "ur: redis://heavy"))
        assert "groups.heavy.redis.ur" in [p.path for p in found], found

    def test_a_groups_redis_takes_every_top_level_key(self, tmp_path: Path) -> None:
        """The same section, sentinel and replica acknowledgements included."""
        text = TWO_GROUPS.replace("      url: redis://heavy:6379/1\n",
                                  "      sentinel: {sentinels: 's:26379', master: heavy}\n"
                                  "      min_replicas_acked: 1\n")
        heavy = load(tmp_path, text).redis_for("heavy")
        assert heavy.sentinel is not None and heavy.sentinel.master == "heavy"
        assert heavy.min_replicas_acked == 1


class TestTlsFiles:
    """The TLS files of both sections are checked before anything connects (kafka-python and redis-py would
    only log "No such file or directory" at every connection attempt)."""

    def test_redis_client_certificate_and_verification_settings(self, tmp_path: Path) -> None:
        """A rediss:// url takes the CA, a client certificate with its encrypted key and the key's password."""
        tls = tls_files(tmp_path)
        redis = load(tmp_path, route(head="""\
            redis:
              url: rediss://r1:6380/0
              ssl_ca_certs: tls/ca.pem
              ssl_certfile: tls/client.pem
              ssl_keyfile: tls/client-encrypted.key
              ssl_password: ${KEY_PASSWORD}
              ssl_check_hostname: true
            """), {"KEY_PASSWORD": "k3y-secret"}).redis
        assert (redis.ssl_ca_certs, redis.ssl_certfile, redis.ssl_keyfile) == (
            str(tls / "ca.pem"), str(tls / "client.pem"), str(tls / "client-encrypted.key"))
        assert redis.ssl_password == Secret("k3y-secret") and "k3y-secret" not in repr(redis)
        assert redis.tls and redis.ssl_check_hostname


class TestPlugins:
    def test_default_plugin_folder_is_handlers_beside_the_file(self, tmp_path: Path) -> None:
        """Without a plugins section, handlers/ next to routes.yaml is searched."""
        assert load(tmp_path, ROUTE).plugins.paths == ((tmp_path / "handlers").resolve(),)

    def test_paths_are_relative_to_the_routes_file(self, tmp_path: Path) -> None:
        """Relative folders are resolved against the routes file's folder, in order."""
        (tmp_path / "more").mkdir()
        plugins = load(tmp_path, route(head="plugins:\n  paths: [more, handlers]\n  packages: [shop_jobs]\n")).plugins
        assert plugins.paths == ((tmp_path / "more").resolve(), (tmp_path / "handlers").resolve())
        assert plugins.packages == ("shop_jobs",)

    def test_package_names_are_top_level_identifiers(self, tmp_path: Path) -> None:
        """plugins.packages holds importable top-level names only."""
        assert only(tmp_path, route(head="plugins:\n  packages: [shop.jobs]\n")).path == "plugins.packages[0]"


class TestDaemon:
    def test_defaults(self, tmp_path: Path) -> None:
        """Without a daemon section: 30 s drain, no HTTP port, 5 MiB messages, automatic log format."""
        daemon = load(tmp_path, ROUTE).daemon
        assert (daemon.shutdown_timeout, daemon.http_port, daemon.max_message_bytes, daemon.log_format) == \
            (defaults.SHUTDOWN_TIMEOUT, None, defaults.MAX_MESSAGE_BYTES, "auto")

    def test_settings(self, tmp_path: Path) -> None:
        """Every daemon setting is read."""
        daemon = load(tmp_path, route(head="""\
            daemon:
              shutdown_timeout: 5.5
              http_port: 8080
              http_host: 192.0.2.1
              max_message_bytes: 1000
              log_format: json
              log_level: debug
              queue_high_watermark: 1000
              queue_low_watermark: 10
            """)).daemon
        assert (daemon.shutdown_timeout, daemon.http_port, daemon.http_host) == (5.5, 8080, "192.0.2.1")
        assert (daemon.max_message_bytes, daemon.log_format, daemon.log_level) == (1000, "json", "debug")
        assert (daemon.queue_high_watermark, daemon.queue_low_watermark) == (1000, 10)

    @pytest.mark.parametrize(("text", "message"), [
        ("daemon:\n  shutdown_timeout: 0\n", "must be > 0"),
        ("daemon:\n  log_format: xml\n", "'xml' is not one of"),
        ("daemon:\n  http_port: 70000\n", "must be <= 65535"),
    ])
    def test_invalid_daemon_settings(self, tmp_path: Path, text: str, message: str) -> None:
        """Ranges and choices are checked."""
        assert message in only(tmp_path, route(head=text)).message


class TestDefaults:
    def test_defaults_apply_to_every_route(self, tmp_path: Path) -> None:
        """A setting in `defaults` is used by each route that does not set it."""
        config = load(tmp_path, """\
            defaults:
              queue: shop
              decode: text
              dead_letter: dlq
              filter: params != null
            groups:
              g:
                routes:
                  - {topic: a, handler: h.f}
                  - {topic: b, handler: h.g, queue: other, decode: raw}
            """)
        first, second = config.routes
        assert (first.queue, first.decode, first.dead_letter, first.filter) == ("shop", "text", "dlq", "params != null")
        assert (second.queue, second.decode, second.dead_letter) == ("other", "raw", "dlq")
        assert first.on_error == "dead_letter"

    def test_job_options_merge_key_by_key(self, tmp_path: Path) -> None:
        """A route's `job` keeps the defaults' job keys it does not set itself."""
        config = load(tmp_path, """\
            defaults:
              job: {timeout: 60, result_ttl: 100, retry: {max: 2}}
            groups:
              g:
                routes:
                  - topic: a
                    handler: h.f
                    job: {timeout: 5, at_front: true}
            """)
        job = config.routes[0].job
        assert (job.timeout, job.result_ttl, job.at_front, job.retry_max) == (5, 100, True, 2)
        assert job.failure_ttl == defaults.FAILURE_TTL

    @pytest.mark.parametrize("key", ["topic: t", "topics: [t]", "handler: h.f", "name: n"])
    def test_route_identity_cannot_be_defaulted(self, tmp_path: Path, key: str) -> None:
        """topic, topics, handler and name belong to each route, not to `defaults`."""
        problem = only(tmp_path, route(head=f"defaults:\n  {key}\n"))
        assert problem.path == f"defaults.{key.split(':', maxsplit=1)[0]}"
        assert "unknown key" in problem.message

    def test_routes_without_dead_letter_are_warned_about(self, tmp_path: Path) -> None:
        """A route that would skip bad messages without saying so gets a warning (not an error)."""
        config = load(tmp_path, ROUTE)
        assert len(config.warnings) == 1
        assert "no dead_letter topic" in config.warnings[0].message
        assert load(tmp_path, route("on_error: skip\n")).warnings == ()


class TestGroups:
    def test_group_defaults(self, tmp_path: Path) -> None:
        """One thread, earliest, the default session and poll settings, no static membership."""
        group = load(tmp_path, ROUTE).groups[0]
        assert (group.id, group.threads, group.auto_offset_reset) == ("g", 1, "earliest")
        assert (group.session_timeout_ms, group.heartbeat_interval_ms, group.max_poll_records) == \
            (defaults.SESSION_TIMEOUT_MS, None, defaults.MAX_POLL_RECORDS)
        assert (group.max_poll_interval_ms, group.instance_id) == (defaults.MAX_POLL_INTERVAL_MS, None)
        assert (group.isolation_level, group.assignment_strategy) == ("read_committed", "range")

    def test_group_settings(self, tmp_path: Path) -> None:
        """Every group setting is read."""
        group = load(tmp_path, """\
            groups:
              billing.v2:
                threads: 4
                auto_offset_reset: latest
                session_timeout_ms: 30000
                heartbeat_interval_ms: 3000
                max_poll_records: 100
                max_poll_interval_ms: 60000
                instance_id: billing-host1
                isolation_level: read_uncommitted
                assignment_strategy: cooperative-sticky
                routes:
                  - {topic: a, handler: h.f}
            """).groups[0]
        assert (group.isolation_level, group.assignment_strategy) == ("read_uncommitted", "cooperative-sticky")
        assert (group.id, group.threads, group.auto_offset_reset, group.instance_id) == \
            ("billing.v2", 4, "latest", "billing-host1")
        assert (group.session_timeout_ms, group.heartbeat_interval_ms) == (30000, 3000)
        assert (group.max_poll_records, group.max_poll_interval_ms) == (100, 60000)

    @pytest.mark.parametrize(("text", "path", "message"), [
        ("threads: 0", "groups.g.threads", "must be >= 1"),
        ("threads: 65", "groups.g.threads", "must be <= 64"),
        ("threads: 1.5", "groups.g.threads", "expected an integer"),
        ("auto_offset_reset: none", "groups.g.auto_offset_reset", "'none' is not one of"),
        ("instance_id: 'a b'", "groups.g.instance_id", "is not valid here"),
        ("session_timeout_ms: 10", "groups.g.session_timeout_ms", "must be >= 1000"),
        ("threds: 2", "groups.g.threds", "did you mean 'threads'?"),
    ])
    def test_invalid_group_settings(self, tmp_path: Path, text: str, path: str, message: str) -> None:
        """Each bad group setting is reported at its key."""
        problem = only(tmp_path, f"groups:\n  g:\n    {text}\n    routes: [{{topic: a, handler: h.f}}]\n")
        assert problem.path == path
        assert message in problem.message

    @pytest.mark.parametrize(("text", "message"), [
        ("groups: {}\n", "must not be empty"),
        ("groups:\n  g: {}\n", "missing required key 'routes'"),
        ("groups:\n  g:\n    routes: []\n", "must not be empty"),
        ("groups:\n  'bad id!':\n    routes: [{topic: a, handler: h.f}]\n", "is not a valid Kafka group id"),
        ("groups:\n  g: null\n", "expected a mapping, got null"),
    ])
    def test_invalid_groups(self, tmp_path: Path, text: str, message: str) -> None:
        """Groups must exist, be named like Kafka group ids, and have routes."""
        assert message in only(tmp_path, text).message


class TestStaticMembership:
    def test_the_environment_names_every_group_without_its_own_instance_id(self, tmp_path: Path) -> None:
        """$KARAFKAD_INSTANCE_ID (what the unit files set) is the default; a group's own instance_id wins."""
        config = load(tmp_path, """\
            groups:
              a: {routes: [{topic: a, handler: h.f}]}
              b: {instance_id: own, routes: [{topic: b, handler: h.f}]}
            """, environ={"KARAFKAD_INSTANCE_ID": "host1-shop"})
        assert [g.instance_id for g in config.groups] == ["host1-shop", "own"]

    def test_an_empty_variable_means_dynamic_members(self, tmp_path: Path) -> None:
        """Set but empty: no static membership."""
        assert load(tmp_path, ROUTE, environ={"KARAFKAD_INSTANCE_ID": ""}).groups[0].instance_id is None

    def test_an_invalid_instance_id_in_the_environment_is_refused(self, tmp_path: Path) -> None:
        """The variable is named, with what an instance id may hold."""
        problem = only(tmp_path, ROUTE, environ={"KARAFKAD_INSTANCE_ID": "host 1/shop"})
        assert "$KARAFKAD_INSTANCE_ID 'host 1/shop' is not a valid instance id" in problem.message

    def test_an_unknown_assignment_strategy_is_refused_with_the_choices(self, tmp_path: Path) -> None:
        """The strategies kafka-python has, by their Kafka names."""
        problem = only(tmp_path, "groups:\n  g:\n    assignment_strategy: sticky-ish\n"
                                 "    routes: [{topic: a, handler: h.f}]\n")
        assert "'cooperative-sticky'" in problem.message and problem.path == "groups.g.assignment_strategy"


class TestRoutes:
    def test_minimal_route(self, tmp_path: Path) -> None:
        """topic and handler are enough; everything else has its default."""
        spec = load(tmp_path, ROUTE).routes[0]
        assert (spec.group, spec.index, spec.name, spec.topics, spec.handler) == ("g", 0, "t->h.f", ("t",), "h.f")
        assert (spec.queue, spec.decode, spec.tombstone, spec.on_error, spec.batch) == \
            (defaults.QUEUE, "json", "skip", "skip", None)
        assert (spec.schema, spec.filter, spec.before_enqueue, spec.dead_letter, spec.pass_meta) == \
            (None, None, (), None, None)
        assert spec.path == ("groups", "g", "routes", 0)

    def test_topics_list(self, tmp_path: Path) -> None:
        """`topics` takes several; the default name uses the first."""
        text = "groups:\n  g:\n    routes:\n      - {topics: [a, b], handler: h.f}\n"
        spec = load(tmp_path, text).routes[0]
        assert (spec.topics, spec.name) == (("a", "b"), "a->h.f")

    @pytest.mark.parametrize(("text", "message"), [
        ("{topic: a, topics: [b], handler: h.f}", "a route has `topic` or `topics`, not both"),
        ("{handler: h.f}", "missing required key 'topic' (or 'topics')"),
        ("{topic: a}", "missing required key 'handler'"),
        ("{topics: [], handler: h.f}", "must not be empty"),
        ("{topics: [a, a], handler: h.f}", "has non-unique elements"),
        ("{topic: 'a b', handler: h.f}", "is not valid here"),
        ("{topic: a, handler: f}", "is not valid here"),
        ("{topic: a, handler: h.f, name: 'no spaces'}", "is not valid here"),
        ("{topc: a, handler: h.f}", "unknown key 'topc' (did you mean 'topic'?)"),
        ("[a, h.f]", "expected a mapping"),
    ])
    def test_invalid_route_identity(self, tmp_path: Path, text: str, message: str) -> None:
        """A route names its topic(s) and its handler, once each, in the right form."""
        assert message in only(tmp_path, f"groups:\n  g:\n    routes:\n      - {text}\n").message

    def test_schema_forms(self, tmp_path: Path) -> None:
        """A schema is a file name, a mapping written inline, or true/false."""
        text = """\
            groups:
              g:
                routes:
                  - {topic: a, handler: h.f, schema: schemas/a.json}
                  - {topic: b, handler: h.f, schema: {type: object, required: [id]}}
                  - {topic: c, handler: h.f, schema: true}
            """
        specs = load(tmp_path, text).routes
        assert [s.schema for s in specs] == ["schemas/a.json", {"type": "object", "required": ["id"]}, True]

    def test_filter_and_hooks(self, tmp_path: Path) -> None:
        """filter is text (compiled later); before_enqueue is one path or a list."""
        specs = load(tmp_path, """\
            groups:
              g:
                routes:
                  - {topic: a, handler: h.f, filter: params.x > 1, before_enqueue: h.ok}
                  - {topic: b, handler: h.f, before_enqueue: [h.ok, h.also]}
            """).routes
        assert (specs[0].filter, specs[0].before_enqueue) == ("params.x > 1", ("h.ok",))
        assert specs[1].before_enqueue == ("h.ok", "h.also")

    def test_job_options(self, tmp_path: Path) -> None:
        """Every job option is read; retry becomes max and a tuple of intervals."""
        job = load(tmp_path, route("""\
            queue: orders.high
            job:
              timeout: 30
              result_ttl: 0
              failure_ttl: 3600
              ttl: 600
              retry: {max: 3, intervals: [5, 30]}
              at_front: true
              description: "order {key} from {topic}[{partition}]@{offset}"
              serializer: pickle
            """)).routes[0].job
        assert (job.timeout, job.result_ttl, job.failure_ttl, job.ttl) == (30, 0, 3600, 600)
        assert (job.retry_max, job.retry_intervals, job.at_front, job.serializer) == (3, (5, 30), True, "pickle")
        assert job.description == "order {key} from {topic}[{partition}]@{offset}"

    def test_retry_with_one_interval_or_none(self, tmp_path: Path) -> None:
        """`intervals: 10` is one interval; no intervals means retry at once."""
        assert load(tmp_path, route("job: {retry: {max: 2, intervals: 10}}\n")).routes[0].job.retry_intervals == (10,)
        assert load(tmp_path, route("job: {retry: {max: 2}}\n")).routes[0].job.retry_intervals == (0,)

    def test_default_job_options(self, tmp_path: Path) -> None:
        """RQ's own defaults, JSON serializer, no retry."""
        job = load(tmp_path, ROUTE).routes[0].job
        assert (job.timeout, job.result_ttl, job.failure_ttl, job.ttl) == \
            (defaults.JOB_TIMEOUT, defaults.RESULT_TTL, defaults.FAILURE_TTL, None)
        assert (job.retry_max, job.retry_intervals, job.serializer, job.description) == (0, (), "json", None)

    @pytest.mark.parametrize(("text", "path", "message"), [
        ("job: {timeout: 0}", "job.timeout", "must be >= 1"),
        ("job: {result_ttl: -2}", "job.result_ttl", "must be >= -1"),
        ("job: {retry: {max: 0}}", "job.retry.max", "must be >= 1"),
        ("job: {retry: {intervals: 5}}", "job.retry", "missing required key 'max'"),
        ("job: {retry: {max: 1, intervals: []}}", "job.retry.intervals", "must not be empty"),
        ("job: {serializer: msgpack}", "job.serializer", "'msgpack' is not one of 'json', 'pickle'"),
        ("job: {timout: 5}", "job.timout", "did you mean 'timeout'?"),
        ("queue: 'a queue'", "queue", "is not valid here"),
        ("decode: xml", "decode", "'xml' is not one of 'json', 'text', 'raw'"),
        ("tombstone: drop", "tombstone", "is not one of 'skip', 'enqueue', 'dead_letter'"),
        ("on_error: ignore", "on_error", "is not one of 'dead_letter', 'skip'"),
        ("batch: 1", "batch", "expected a mapping or true or false, got integer 1"),
        ("filter: ''", "filter", "must not be empty"),
        ("job: {description: '" + "x" * 501 + "'}", "job.description", "is 501 characters long; the maximum is 500"),
        ("before_enqueue: [h]", "before_enqueue[0]", "is not valid here"),
        ("schema: 3", "schema", "expected a mapping or a string or true or false, got integer 3"),
    ])
    def test_invalid_route_options(self, tmp_path: Path, text: str, path: str, message: str) -> None:
        """Each bad route option is reported at its key, in the route."""
        problem = only(tmp_path, route(text + "\n"))
        assert problem.path == f"groups.g.routes[0].{path}"
        assert message in problem.message

    def test_decode_tombstone_dead_letter_batch(self, tmp_path: Path) -> None:
        """decode, tombstone, dead_letter, on_error, batch and pass_meta are read."""
        spec = load(tmp_path, route("""\
            decode: raw
            tombstone: dead_letter
            dead_letter: t.dlq
            on_error: skip
            batch: true
            pass_meta: false
            name: raw-route
            """)).routes[0]
        assert (spec.decode, spec.tombstone, spec.dead_letter, spec.on_error) == ("raw", "dead_letter", "t.dlq", "skip")
        assert (spec.batch, spec.pass_meta, spec.name) == (BatchOptions(), False, "raw-route")

    def test_on_error_defaults_to_dead_letter_when_a_topic_is_given(self, tmp_path: Path) -> None:
        """With a dead_letter topic, rejected messages go there unless on_error says skip."""
        assert load(tmp_path, route("dead_letter: dlq\n")).routes[0].on_error == "dead_letter"

    def test_max_age_and_delays_are_read(self, tmp_path: Path) -> None:
        """max_age on the route; delay and at under job."""
        config = load(tmp_path, route("max_age: 300\njob: {at: params.order.due}\n"))
        spec = config.routes[0]
        assert spec.max_age == 300 and spec.job.at_path == ("order", "due") and spec.job.delay is None


class TestBatch:
    def test_true_is_a_job_per_poll_and_a_mapping_sizes_the_batches(self, tmp_path: Path) -> None:
        """`batch: true` keeps its meaning (no size); a mapping is sized, what it leaves out from defaults.py."""
        config = load(tmp_path, """\
            defaults: {on_error: skip}
            groups:
              g:
                routes:
                  - {topic: a, handler: h.f, batch: true}
                  - {topic: b, handler: h.f, batch: {max_messages: 100, max_wait: 0.5}}
                  - {topic: c, handler: h.f, batch: {max_wait: 2}}
                  - {topic: d, handler: h.f, batch: {}}
                  - {topic: e, handler: h.f, batch: false}
            """)
        most = defaults.BATCH_MAX_MESSAGES
        assert [spec.batch for spec in config.routes] == [
            BatchOptions(), BatchOptions(BatchSize(100, 0.5)), BatchOptions(BatchSize(most, 2.0)),
            BatchOptions(BatchSize(most, defaults.BATCH_MAX_WAIT)), None]
        assert config.warnings == ()  # one batch route per topic: its batches are its own size
        assert config.groups[0].gathered() == {"b": BatchSize(100, 0.5), "c": BatchSize(most, 2.0), "d": BatchSize()}

    def test_a_route_s_batch_replaces_the_one_in_defaults_whole(self, tmp_path: Path) -> None:
        """`batch` is one value, not merged key by key like `job`: a route's `true` or `false` is not a size."""
        config = load(tmp_path, """\
            defaults: {batch: {max_messages: 10}}
            groups:
              g:
                routes:
                  - {topic: a, handler: h.f}
                  - {topic: b, handler: h.f, batch: {max_wait: 3}}
                  - {topic: c, handler: h.f, batch: true}
                  - {topic: d, handler: h.f, batch: false}
            """)
        assert [spec.batch for spec in config.routes] == [
            BatchOptions(BatchSize(10, defaults.BATCH_MAX_WAIT)),
            BatchOptions(BatchSize(defaults.BATCH_MAX_MESSAGES, 3.0)), BatchOptions(), None]

    def test_every_bad_size_is_reported_at_its_key(self, tmp_path: Path) -> None:
        """Bounds, types and unknown keys of a sized batch, each at its own line and key, all at once."""
        found = problems(tmp_path, route("batch: {max_messages: 0, max_wait: 0, max_wiat: 1}\n"
                                         "name: r\n") + "      - {topic: u, handler: h.f, batch: {max_wait: 1s}}\n")
        assert [(p.line, p.path, p.message) for p in found] == [
            (6, "groups.g.routes[0].batch.max_messages", "0 is out of range: must be >= 1"),
            (6, "groups.g.routes[0].batch.max_wait", "0 is out of range: must be > 0"),
            (6, "groups.g.routes[0].batch.max_wiat", "unknown key 'max_wiat' (did you mean 'max_wait'?)"),
            (8, "groups.g.routes[1].batch.max_wait", "expected a number, got string '1s'")]


class TestProblemReports:
    def test_every_problem_at_once_in_file_order(self, tmp_path: Path) -> None:
        """All schema problems are listed together, sorted by line."""
        found = problems(tmp_path, """\
            kafka: {client_id: ''}
            groups:
              g:
                threads: 0
                routes:
                  - {topic: a, handler: h.f, queue: 'x y', decode: xml}
            """)
        assert [p.line for p in found] == [1, 4, 6, 6]
        assert len({str(p) for p in found}) == 4

    def test_problem_text_has_file_line_column_and_path(self, tmp_path: Path) -> None:
        """Each problem prints as FILE:LINE:COL: dotted.path: message."""
        problem = only(tmp_path, route("decode: xml\n"))
        assert str(problem) == f"{tmp_path / 'routes.yaml'}:6:9: groups.g.routes[0].decode: 'xml' is not one of " \
                               "'json', 'text', 'raw'"

    def test_a_typo_is_not_also_reported_as_a_missing_key(self, tmp_path: Path) -> None:
        """`handlr:` gives one "did you mean" problem, not also "missing handler"."""
        problem = only(tmp_path, "groups:\n  g:\n    routes:\n      - {topic: a, handlr: h.f}\n")
        assert "unknown key 'handlr' (did you mean 'handler'?)" in problem.message

    def test_unknown_key_lists_known_keys_when_nothing_is_close(self, tmp_path: Path) -> None:
        """Without a close match, the known keys are listed."""
        problem = only(tmp_path, route(head="zzz: 1\n"))
        assert "known keys: daemon, defaults, groups, kafka, plugins, redis, topics, version" in problem.message

    def test_version(self, tmp_path: Path) -> None:
        """version: 1 is accepted; anything else is not."""
        load(tmp_path, route(head="version: 1\n"))
        assert "must be 1, got 2" in only(tmp_path, route(head="version: 2\n")).message

    def test_environment_values_are_typed_and_checked(self, tmp_path: Path) -> None:
        """${THREADS} typed as an integer works; a non-number says it came from the environment."""
        text = "groups:\n  g:\n    threads: ${THREADS:2}\n    routes: [{topic: a, handler: h.f}]\n"
        assert load(tmp_path, text).groups[0].threads == 2
        assert load(tmp_path, text, {"THREADS": "8"}).groups[0].threads == 8
        problem = only(tmp_path, text, {"THREADS": "eight"})
        assert "got string 'eight' (the value after substituting environment variables)" in problem.message


class TestExampleRoutes:
    def test_the_example_file_loads(self) -> None:
        """config/routes.yaml is valid, with its defaults applied."""
        config = load_config(EXAMPLE, {})
        assert [g.id for g in config.groups] == ["shop", "analytics"]
        assert config.groups[0].threads == 2
        orders = config.routes[0]
        assert (orders.name, orders.dead_letter, orders.job.timeout, orders.job.retry_max) == \
            ("orders", "shop.dead-letters", 60, 3)
        assert config.redis.url == "redis://127.0.0.1:6379/0"

    def test_the_example_file_reads_its_environment(self) -> None:
        """KAFKA_BOOTSTRAP and REDIS_URL override the example's defaults."""
        config = load_config(EXAMPLE, {"KAFKA_BOOTSTRAP": "k1:1,k2:2", "REDIS_URL": "redis://r:1/2"})
        assert config.kafka.bootstrap_servers == ("k1:1", "k2:2")
        assert config.redis.url == "redis://r:1/2"


class TestMutatedFiles:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def test_any_edit_of_the_example_loads_or_reports_problems(self, tmp_path: Path, data: st.DataObject) -> None:
        """Deleting, inserting or replacing text anywhere gives a Config or a ConfigError, nothing else,
        and every problem names a line within the file."""
        text = EXAMPLE.read_text()
        start = data.draw(st.integers(0, len(text)), label="start")
        end = data.draw(st.integers(start, min(len(text), start + 40)), label="end")
        pieces = [*" \n\t:-[]{}&*!|>'\"#%@`,?$\x00\x85", "groups", "routes", "<<", "${X}", "!!python/name:x"]
        insert = data.draw(st.lists(st.sampled_from(pieces), max_size=6).map("".join), label="insert")
        mutated = text[:start] + insert + text[end:]
        (tmp_path / "handlers").mkdir(exist_ok=True)  # the example's plugin folder is ../handlers
        (tmp_path / "config").mkdir(exist_ok=True)
        path = tmp_path / "config" / "routes.yaml"
        path.write_text(mutated, encoding="utf-8")
        try:
            load_config(path, {})
        except ConfigError as exc:
            lines = mutated.count("\n") + 1
            for problem in exc.problems:
                assert 1 <= problem.line <= lines + 1, problem


class TestSentinel:
    """Where jobs go when Redis is behind Sentinel, and the replica acknowledgements a write waits for."""

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

    @pytest.mark.parametrize(("text", "path"), [
        ("redis:\n  min_replicas_acked: -1\n", "redis.min_replicas_acked"),
        ("redis:\n  replica_ack_timeout_ms: 0\n", "redis.replica_ack_timeout_ms"),
    ])
    def test_invalid_acknowledgement_settings(self, tmp_path: Path, text: str, path: str) -> None:
        """A negative replica count or a zero timeout is a problem at its key."""
        found = problems(tmp_path, text + ROUTE)
        assert [p.path for p in found] == [path], found
