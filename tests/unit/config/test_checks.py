"""config/checks.py: the rules of a routes file that span several values, each problem where the value was written.

The checks run on a loaded file (they need the typed settings and the
document's positions), so each test loads a small routes file and reads what
it reports.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from routes_files import ROUTE, TWO_GROUPS, load, only, problems, route, tls_files

from karafkad import defaults
from karafkad.config.checks import DESCRIPTION_FIELDS
from karafkad.config.loading import load_config
from karafkad.config.settings import BatchSize
from karafkad.errors import ConfigError


class TestKafkaSecurity:
    """SASL and SSL settings that kafka-python would refuse, or silently not use (kafka_security_problems)."""

    def test_sasl_without_mechanism(self, tmp_path: Path) -> None:
        """A SASL protocol needs sasl_mechanism."""
        problem = only(tmp_path, route(head="""\
            kafka:
              security_protocol: SASL_PLAINTEXT
              sasl_plain_username: u
              sasl_plain_password: p
            """))
        assert (problem.path, problem.line) == ("kafka.security_protocol", 2)
        assert "SASL_PLAINTEXT needs `sasl_mechanism`" in problem.message

    def test_sasl_without_credentials(self, tmp_path: Path) -> None:
        """PLAIN and SCRAM both need a user name and a password."""
        found = problems(tmp_path, route(head="kafka:\n  security_protocol: SASL_SSL\n  sasl_mechanism: PLAIN\n"))
        assert sorted(p.message.split("`")[1] for p in found) == ["sasl_plain_password", "sasl_plain_username"]

    def test_sasl_settings_without_a_sasl_protocol(self, tmp_path: Path) -> None:
        """SASL settings with PLAINTEXT would be silently unused: an error naming the key."""
        problem = only(tmp_path, route(head="kafka:\n  sasl_plain_username: u\n"))
        assert problem.path == "kafka.sasl_plain_username"
        assert "has no effect with security_protocol PLAINTEXT" in problem.message

    def test_ssl_settings_without_an_ssl_protocol(self, tmp_path: Path) -> None:
        """SSL settings with SASL_PLAINTEXT would be silently unused: an error naming the key."""
        found = problems(tmp_path, route(head="""\
            kafka:
              security_protocol: SASL_PLAINTEXT
              sasl_mechanism: PLAIN
              sasl_plain_username: u
              sasl_plain_password: p
              ssl_cafile: /ca.pem
            """))
        assert [p.path for p in found] == ["kafka.ssl_cafile"]


class TestTlsFiles:
    @pytest.mark.parametrize(("section", "head"), [
        ("kafka", "kafka:\n  security_protocol: SSL\n"),
        ("redis", "redis:\n  ssl: true\n"),
        ("redis", "redis:\n  url: rediss://r1/0\n"),
    ])
    def test_a_missing_or_unreadable_file_is_named_at_its_key(self, tmp_path: Path, section: str, head: str) -> None:
        """Each file that is not there, is a folder or cannot be read is a problem at its line."""
        tls = tls_files(tmp_path)
        (tls / "client.key").chmod(0)
        ca_key = "ssl_cafile" if section == "kafka" else "ssl_ca_certs"
        found = problems(tmp_path, route(head=head + f"  {ca_key}: tls/nope.pem\n  ssl_certfile: tls\n"
                                                        "  ssl_keyfile: tls/client.key\n"))
        messages = {p.path: p.message for p in found}
        assert messages[f"{section}.{ca_key}"] == f"{tls / 'nope.pem'} does not exist"
        assert messages[f"{section}.ssl_certfile"] == f"{tls} is not a file"
        if os.geteuid() != 0:  # root reads anything
            assert messages[f"{section}.ssl_keyfile"] == f"{tls / 'client.key'} cannot be read by this user"
        assert {p.path: p.line for p in found}[f"{section}.{ca_key}"] == 3

    @pytest.mark.parametrize("section", ["kafka:\n  security_protocol: SSL\n", "redis:\n  ssl: true\n"])
    def test_an_encrypted_key_needs_its_password(self, tmp_path: Path, section: str) -> None:
        """Without ssl_password OpenSSL would ask for it on a terminal, or fail at every connection."""
        tls_files(tmp_path)
        problem = only(tmp_path, route(head=section + "  ssl_certfile: tls/client.pem\n"
                                                      "  ssl_keyfile: tls/client-encrypted.key\n"))
        assert problem.path.endswith(".ssl_keyfile")
        assert problem.message.endswith("holds an encrypted private key: set ssl_password")

    def test_a_key_or_password_without_a_certificate(self, tmp_path: Path) -> None:
        """They belong to a client certificate; alone they would be ignored (kafka-python) or fail (redis-py)."""
        tls_files(tmp_path)
        found = problems(tmp_path, route(head="kafka:\n  security_protocol: SSL\n  ssl_keyfile: tls/client.key\n"
                                              "  ssl_password: pw\n"))
        assert [(p.path, p.message) for p in found] == [
            ("kafka.ssl_keyfile", "has no effect without ssl_certfile (the client certificate it belongs to)"),
            ("kafka.ssl_password", "has no effect without ssl_certfile (the client certificate it belongs to)")]

    def test_ssl_crlfile_is_refused_with_the_reason(self, tmp_path: Path) -> None:
        """kafka-python 3.0 fails every connection that has one: better said before starting."""
        tls = tls_files(tmp_path)
        problem = only(tmp_path, route(head=f"kafka:\n  security_protocol: SSL\n  ssl_crlfile: {tls / 'ca.pem'}\n"))
        assert problem.path == "kafka.ssl_crlfile"
        assert "kafka-python 3.0 cannot load a revocation list" in problem.message

    @pytest.mark.parametrize(("head", "hint"), [
        ("redis:\n  url: redis://r1/0\n", "use a rediss:// url"),
        ("redis:\n  host: r1\n", "set ssl: true"),
    ])
    def test_redis_tls_settings_without_tls(self, tmp_path: Path, head: str, hint: str) -> None:
        """TLS settings on a plain connection would be ignored: each is a problem saying how to turn TLS on."""
        tls_files(tmp_path)
        found = problems(tmp_path, route(head=head + "  ssl_ca_certs: tls/ca.pem\n  ssl_check_hostname: false\n"))
        assert [p.path for p in found] == ["redis.ssl_ca_certs", "redis.ssl_check_hostname"]
        assert all(p.message == f"has no effect without TLS; {hint}" for p in found)

    def test_a_groups_own_redis_is_checked_like_the_top_level_one(self, tmp_path: Path) -> None:
        """A group's `redis` (issue 13) gets the same TLS checks, each problem at the group's line."""
        tls = tls_files(tmp_path)
        found = problems(tmp_path, """\
            groups:
              g:
                redis:
                  url: rediss://r2:6380/0
                  ssl_ca_certs: tls/nope.pem
                  ssl_certfile: tls/client.pem
                  ssl_keyfile: tls/client-encrypted.key
                routes:
                  - {topic: t, handler: h.f}
              h:
                redis: {url: "redis://r3/0", ssl_ca_certs: tls/ca.pem}
                routes:
                  - {topic: u, handler: h.f, queue: other}
            """)
        assert [(p.path, p.line, p.message) for p in found] == [
            ("groups.g.redis.ssl_ca_certs", 5, f"{tls / 'nope.pem'} does not exist"),
            ("groups.g.redis.ssl_keyfile", 7,
             f"{tls / 'client-encrypted.key'} holds an encrypted private key: set ssl_password"),
            ("groups.h.redis.ssl_ca_certs", 11, "has no effect without TLS; use a rediss:// url")]

    def test_a_groups_missing_or_unreadable_tls_files_are_each_a_problem_at_their_line(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """CA, certificate and key of `groups.NAME.redis`: one missing, one a folder, one this user cannot read
        (os.access says no; the tests run as root, who reads anything): each named with its file, line and key,
        as for the top-level `redis`."""
        tls = tls_files(tmp_path)
        (tls / "ca-folder.pem").mkdir()
        unreadable = str(tls / "client.key")
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode: str(path) != unreadable and real_access(path, mode))
        found = problems(tmp_path, """\
            groups:
              heavy:
                redis:
                  url: rediss://r2:6380/0
                  ssl_ca_certs: tls/ca-folder.pem
                  ssl_certfile: tls/missing.pem
                  ssl_keyfile: tls/client.key
                routes:
                  - {topic: t, handler: h.f}
            """)
        assert [(p.path, p.line, p.column, p.message) for p in found] == [
            ("groups.heavy.redis.ssl_ca_certs", 5, 7, f"{tls / 'ca-folder.pem'} is not a file"),
            ("groups.heavy.redis.ssl_certfile", 6, 7, f"{tls / 'missing.pem'} does not exist"),
            ("groups.heavy.redis.ssl_keyfile", 7, 7, f"{unreadable} cannot be read by this user")]

    def test_files_are_not_checked_where_tls_is_off(self, tmp_path: Path) -> None:
        """With a plain protocol only "has no effect" is said, not that the file is missing too."""
        problem = only(tmp_path, route(head="kafka:\n  ssl_cafile: /nope/ca.pem\n"))
        assert "has no effect with security_protocol PLAINTEXT" in problem.message


class TestJobDescription:
    def test_every_placeholder_and_literal_braces(self, tmp_path: Path) -> None:
        """{topic} {partition} {offset} {key} and {{ }} are accepted."""
        text = "{{" + " ".join("{" + f + "}" for f in DESCRIPTION_FIELDS) + "}}"
        assert load(tmp_path, route(f'job: {{description: "{text}"}}\n')).routes[0].job.description == text

    @pytest.mark.parametrize(("description", "column", "message"), [
        ("{topic.__class__}", 29, "attribute and index lookups are not allowed"),
        ("x {key[0]}", 31, "attribute and index lookups are not allowed"),
        ("{offset!r}", 29, "conversions (!r, !s, !a) are not allowed"),
        ("{offset:>999999999}", 29, "format specifications (:...) are not allowed"),
        ("{}", 29, "a placeholder needs a name"),
        ("{0}", 29, "unknown placeholder"),
        ("{partiton}", 29, "unknown placeholder (did you mean {partition}?)"),
        ("{__class__}", 29, "attribute and index lookups are not allowed"),
    ])
    def test_refused_placeholders(self, tmp_path: Path, description: str, column: int, message: str) -> None:
        """Only the four bare names: no attribute, index, conversion or format spec reaches str.format."""
        problem = only(tmp_path, route(f'job: {{description: "{description}"}}\n'))
        assert problem.path == "groups.g.routes[0].job.description"
        assert (problem.line, problem.column) == (6, column)
        assert message in problem.message
        assert "a description may use {topic}, {partition}, {offset}, {key}" in problem.message

    @pytest.mark.parametrize("description", ["order {", "order }", "order {topic"])
    def test_unbalanced_braces(self, tmp_path: Path, description: str) -> None:
        """Braces that str.format cannot parse are an error with advice on literal braces."""
        problem = only(tmp_path, route(f'job: {{description: "{description}"}}\n'))
        assert "not a valid description" in problem.message
        assert "{{ and }} for literal braces" in problem.message

    def test_a_bad_description_in_defaults_is_reported_once_there(self, tmp_path: Path) -> None:
        """A mistake in `defaults` is reported at its line once, not once per route."""
        problem = only(tmp_path, """\
            defaults:
              job: {description: "{topic.__class__}"}
            groups:
              g:
                routes:
                  - {topic: a, handler: h.f}
                  - {topic: b, handler: h.f}
            """)
        assert (problem.path, problem.line) == ("defaults.job.description", 2)


class TestCrossChecks:
    def test_a_job_is_due_after_delay_or_at_at_not_both(self, tmp_path: Path) -> None:
        """delay and at together: which one wins would be a guess."""
        problem = only(tmp_path, route("job: {delay: 5, at: params.when}\n"))
        assert problem.path == "groups.g.routes[0].job.at" and "not both" in problem.message

    def test_at_on_a_batch_route_is_refused(self, tmp_path: Path) -> None:
        """A batch job is many messages: their times cannot make one due time."""
        problem = only(tmp_path, route("batch: true\njob: {at: params.when}\n"))
        assert "use `delay` here" in problem.message

    def test_at_must_name_a_field_of_params(self, tmp_path: Path) -> None:
        """`params.` and dotted names, nothing else (not an expression)."""
        problem = only(tmp_path, route("job: {at: 'params[0]'}\n"))
        assert problem.path == "groups.g.routes[0].job.at"

    def test_dead_letter_topic_consumed_by_its_own_route(self, tmp_path: Path) -> None:
        """A route that dead-letters into its own topic would loop."""
        problem = only(tmp_path, route("dead_letter: t\n"))
        assert problem.path == "groups.g.routes[0].dead_letter"
        assert "a loop" in problem.message

    def test_dead_letters_going_round_through_other_routes(self, tmp_path: Path) -> None:
        """a -> dlq b, b -> dlq c, c -> dlq a: every route of the cycle is reported."""
        found = problems(tmp_path, """\
            groups:
              g1:
                routes:
                  - {topic: a, handler: h.f, dead_letter: b}
              g2:
                routes:
                  - {topic: b, handler: h.f, dead_letter: c}
                  - {topic: c, handler: h.f, dead_letter: a}
                  - {topic: x, handler: h.f, dead_letter: a}
            """)
        assert [p.path for p in found] == ["groups.g1.routes[0].dead_letter", "groups.g2.routes[0].dead_letter",
                                           "groups.g2.routes[1].dead_letter"]
        assert "(a -> b -> c -> a)" in found[0].message

    def test_dead_letter_chains_without_a_cycle_are_fine(self, tmp_path: Path) -> None:
        """a -> dlq b, b -> dlq c is allowed (c is not consumed)."""
        load(tmp_path, """\
            groups:
              g:
                routes:
                  - {topic: a, handler: h.f, dead_letter: b}
                  - {topic: b, handler: h.f, dead_letter: c}
            """)

    def test_on_error_and_tombstone_dead_letter_need_a_topic(self, tmp_path: Path) -> None:
        """dead_letter policies without a dead_letter topic are errors at the policy's key."""
        found = problems(tmp_path, route("on_error: dead_letter\ntombstone: dead_letter\n"))
        assert [p.path for p in found] == ["groups.g.routes[0].on_error", "groups.g.routes[0].tombstone"]

    def test_result_ttl_must_be_below_the_dedupe_window(self, tmp_path: Path) -> None:
        """A result kept longer than the dedupe window would let a redelivery run twice."""
        problem = only(tmp_path, route("job: {result_ttl: 3600}\n", head="redis:\n  dedupe_window: 3600\n"))
        assert problem.path == "groups.g.routes[0].job.result_ttl"
        assert "must be below redis.dedupe_window (3600)" in problem.message

    @pytest.mark.parametrize("ttl", [0, -1, 3599])
    def test_result_ttl_that_fits(self, tmp_path: Path, ttl: int) -> None:
        """0 (discard), -1 (keep) and anything below the window are fine."""
        load(tmp_path, route(f"job: {{result_ttl: {ttl}}}\n", head="redis:\n  dedupe_window: 3600\n"))

    def test_result_ttl_from_defaults_is_reported_in_defaults(self, tmp_path: Path) -> None:
        """The problem points where the value was written."""
        problem = only(tmp_path, route(head="redis: {dedupe_window: 60}\ndefaults:\n  job: {result_ttl: 100}\n"))
        assert (problem.path, problem.line) == ("defaults.job.result_ttl", 3)

    def test_one_serializer_per_queue(self, tmp_path: Path) -> None:
        """Routes feeding one queue must agree on the serializer."""
        problem = only(tmp_path, """\
            groups:
              g:
                routes:
                  - {topic: a, handler: h.f, queue: q}
                  - {topic: b, handler: h.f, queue: q, job: {serializer: pickle}}
                  - {topic: c, handler: h.f, queue: r, job: {serializer: pickle}}
            """)
        assert problem.path == "groups.g.routes[1].job.serializer"
        assert "queue 'q' gets pickle jobs here but json jobs from route 'a->h.f'" in problem.message

    def test_duplicate_route_names(self, tmp_path: Path) -> None:
        """Two routes with the same name in one group (explicit or default) are an error."""
        problem = only(tmp_path, """\
            groups:
              g:
                routes:
                  - {topic: a, handler: h.f}
                  - {topic: a, handler: h.f}
              other:
                routes:
                  - {topic: a, handler: h.f}
            """)
        assert problem.path == "groups.g.routes[1].name"
        assert "route name 'a->h.f' is used twice in group 'g'" in problem.message

    def test_heartbeat_must_be_below_session_timeout(self, tmp_path: Path) -> None:
        """kafka-python refuses a heartbeat interval at or above the session timeout; so does check."""
        problem = only(tmp_path, """\
            groups:
              g:
                session_timeout_ms: 6000
                heartbeat_interval_ms: 9000
                routes: [{topic: a, handler: h.f}]
            """)
        assert (problem.path, problem.line) == ("groups.g.heartbeat_interval_ms", 4)

    def test_low_watermark_must_be_below_high(self, tmp_path: Path) -> None:
        """Pausing above N and resuming below M needs M < N."""
        problem = only(tmp_path, route(head="daemon:\n  queue_high_watermark: 10\n  queue_low_watermark: 10\n"))
        assert problem.path == "daemon.queue_low_watermark"

    def test_one_queue_fed_from_two_redis_servers_is_refused(self, tmp_path: Path) -> None:
        """A queue in two Redis servers would be two queues, one of them never worked: an error at the group."""
        text = TWO_GROUPS.replace("        queue: clicks", "        queue: orders")
        found = problems(tmp_path, text)
        assert [p.path for p in found] == ["groups.heavy.redis"], found
        assert ("queue 'orders' gets jobs in the Redis of group 'heavy' (redis://heavy:6379/1) "
                "and in that of group 'light'") in found[0].message
        assert "give the groups' routes different queues" in found[0].message


class TestPluginFolders:
    """Every plugin folder must exist, the default one too."""

    def test_missing_folder(self, tmp_path: Path) -> None:
        """A plugin folder that does not exist is reported at its list item."""
        problem = only(tmp_path, route(head="plugins:\n  paths: [handlers, nowhere]\n"))
        assert problem.path == "plugins.paths[1]"
        assert "nowhere does not exist" in problem.message

    def test_missing_default_folder(self, tmp_path: Path) -> None:
        """Even the default folder must exist."""
        path = tmp_path / "routes.yaml"
        path.write_text(ROUTE)
        with pytest.raises(ConfigError, match="handlers does not exist"):
            load_config(path, {})


class TestBatchWarnings:
    """batch_warnings: batch routes whose jobs will not be the size their `batch` says (allowed, and said)."""

    def test_a_topic_s_batches_are_gathered_to_its_smallest_sizes_and_a_larger_route_is_told(self,
                                                                                           tmp_path: Path) -> None:
        """Every route of a topic sees the same batches: the smallest max_messages and max_wait of its sized batch
        routes in the group decide; a route that asked for more (or `batch: true`, a job per poll) is warned at
        its `batch`. Another group's routes of the topic are gathered on their own."""
        config = load(tmp_path, """\
            groups:
              g:
                routes:
                  - {topic: t, handler: h.f, name: big, on_error: skip, batch: {max_messages: 100, max_wait: 0.2}}
                  - {topic: t, handler: h.f, name: small, on_error: skip, batch: {max_messages: 50, max_wait: 5}}
                  - {topic: t, handler: h.f, name: per-poll, on_error: skip, batch: true}
                  - {topic: t, handler: h.f, name: each, on_error: skip}
              other:
                routes:
                  - {topic: t, handler: h.f, on_error: skip, batch: {max_messages: 100}}
            """)
        assert config.groups[0].gathered() == {"t": BatchSize(50, 0.2)}
        assert config.groups[1].gathered() == {"t": BatchSize(100, defaults.BATCH_MAX_WAIT)}
        assert [(w.path, w.message) for w in config.warnings] == [
            ("groups.g.routes[0].batch", "'t' has sized batch routes with smaller batches: every route of it gets "
                                         "batches of up to 50 messages gathered for at most 0.2 s (the smallest of "
                                         "each), so this route's are too"),
            ("groups.g.routes[1].batch", "'t' has sized batch routes with smaller batches: every route of it gets "
                                         "batches of up to 50 messages gathered for at most 0.2 s (the smallest of "
                                         "each), so this route's are too"),
            ("groups.g.routes[2].batch", "`batch: true` here makes a job of each batch of 't' gathered for its "
                                         "sized batch routes (up to 50 messages), not of each poll")]


class TestOrdering:
    """`ordering` beside what it cannot keep in order, and `on_failure` without an order to keep."""

    def test_a_batch_route_cannot_keep_key_order(self, tmp_path: Path) -> None:
        """A batch job carries many keys: `ordering: key` is refused at the route's `ordering`."""
        problem = only(tmp_path, route("batch: true\nordering: key\non_error: skip\n"))
        assert problem.path == "groups.g.routes[0].ordering"
        assert "it takes `ordering: partition`" in problem.message

    def test_a_batch_route_may_keep_partition_order(self, tmp_path: Path) -> None:
        """`ordering: partition` on a batch route runs a partition's batch jobs one after another: allowed."""
        spec = load(tmp_path, route("batch: true\nordering: partition\non_error: skip\n")).routes[0]
        assert spec.ordered and spec.ordering == "partition"

    @pytest.mark.parametrize("setting", ["delay: 5", "at: params.when"])
    def test_an_ordered_route_s_jobs_are_not_due_later(self, tmp_path: Path, setting: str) -> None:
        """`delay` or `at` on an ordered route would hold every later job of its key: refused at the setting."""
        name = setting.split(":", maxsplit=1)[0]
        problem = only(tmp_path, route(f"ordering: key\njob: {{{setting}}}\n"))
        assert problem.path == f"groups.g.routes[0].job.{name}"
        assert f"Drop `{name}` or `ordering`" in problem.message

    def test_on_failure_without_ordering_is_refused_where_it_is_written(self, tmp_path: Path) -> None:
        """In a route, or in `defaults` (then once, there): an unordered route's failed job holds nothing."""
        problem = only(tmp_path, route("on_failure: skip\n"))
        assert problem.path == "groups.g.routes[0].on_failure"
        assert "on_failure applies to ordered routes only" in problem.message
        in_defaults = only(tmp_path, route("name: a\n", head="defaults: {on_failure: skip}\n")
                           + "      - {topic: u, handler: h.f, name: b}\n")
        assert (in_defaults.path, in_defaults.line) == ("defaults.on_failure", 1)

    def test_on_failure_on_an_ordered_route_is_read(self, tmp_path: Path) -> None:
        """With `ordering`, `on_failure: skip` is the route's."""
        assert load(tmp_path, route("ordering: key\non_failure: skip\n")).routes[0].on_failure == "skip"
