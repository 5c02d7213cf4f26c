"""config/routes_schema.py: the routes file's JSON Schema, and its own words for the errors the general explainer
(config/schema_check.py) would put poorly."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from routes_files import ROUTE, TWO_GROUPS, only, problems, route

from karafkad.config.routes_schema import every_schema_key, routes_file_problems, routes_schema
from karafkad.config.yamlfile import load_bytes
from karafkad.errors import Problem


def said(text: str) -> list[str]:
    """`path: message` of each problem the schema finds in `text` (a routes file named routes.yaml)."""
    found: list[Problem] = routes_file_problems(load_bytes(text.encode(), "routes.yaml", {}))
    return [f"{p.path}: {p.message}" for p in found]


class TestSchema:
    def test_the_schema_file_is_valid_json_schema(self) -> None:
        """The routes schema itself passes its metaschema."""
        jsonschema.Draft202012Validator.check_schema(routes_schema())

    def test_the_schema_is_read_once(self) -> None:
        """Every caller gets the same parsed schema (the file is read at the first call only)."""
        assert routes_schema() is routes_schema()

    def test_every_key_names_route_options_and_sections_alike(self) -> None:
        """The keys a routes file may hold anywhere: sections, group settings, route options, job options."""
        assert {"groups", "kafka", "redis", "threads", "topic", "topics", "handler", "ordering", "on_failure",
                "max_messages", "result_ttl", "sentinel"} <= every_schema_key()
        assert "handlr" not in every_schema_key()


class TestSpecialWording:
    def test_topic_and_topics_together(self) -> None:
        """One problem at the route, not two "is not valid under any of the given schemas"."""
        assert said("groups:\n  g:\n    routes:\n      - {topic: a, topics: [b], handler: h.f}\n") == [
            "groups.g.routes[0]: a route has `topic` or `topics`, not both"]

    def test_no_topic_names_both_keys(self) -> None:
        """A route without either is missing `topic` (or `topics`); a misspelt one gets only its did-you-mean."""
        assert said("groups:\n  g:\n    routes:\n      - {handler: h.f}\n") == [
            "groups.g.routes[0]: missing required key 'topic' (or 'topics')"]
        assert said("groups:\n  g:\n    routes:\n      - {topc: a, handler: h.f}\n") == [
            "groups.g.routes[0].topc: unknown key 'topc' (did you mean 'topic'?)"]

    def test_route_options_are_known_in_a_route_and_in_defaults(self) -> None:
        """Route options are declared apart from routes: an unknown key beside them lists them among the known
        keys of a route, and `defaults` takes them (but not a route's identity)."""
        assert said(ROUTE + "        ordering: key\n") == []
        assert said("defaults: {ordering: key, queue: q}\n" + ROUTE) == []
        [unknown] = said("defaults: {handler: h.f}\n" + ROUTE)
        assert unknown.startswith("defaults.handler: unknown key 'handler'")

    def test_a_bad_group_id_points_at_the_key_itself(self) -> None:
        """The group's name is the problem: said at its line, with what a Kafka group id may hold."""
        assert said("groups:\n  'bad id!':\n    routes: [{topic: a, handler: h.f}]\n") == [
            "groups.bad id!: 'bad id!' is not a valid Kafka group id: letters, digits, `.`, `_` and `-`, at most "
            "249 characters"]

    @pytest.mark.parametrize("key", ["host: r2", "port: 6380", "db: 1", "ssl: true"])
    def test_url_and_host_settings_are_not_both_allowed(self, tmp_path: Path, key: str) -> None:
        """A url decides host, port, db and TLS: any of them beside it is an error at that key."""
        name = key.split(":", maxsplit=1)[0]
        problem = only(tmp_path, route(head=f"redis:\n  url: redis://r1:6379/0\n  {key}\n"))
        assert (problem.path, problem.line) == (f"redis.{name}", 3)
        assert f"`url` already says where Redis is, so `{name}` would be ignored" in problem.message

    @pytest.mark.parametrize(("text", "kind"), [("- a\n", "a list"), ("hello\n", "a string"), ("3\n", "an integer")])
    def test_top_level_must_be_a_mapping(self, tmp_path: Path, text: str, kind: str) -> None:
        """A file that is not a mapping says what it is."""
        problem = only(tmp_path, text)
        assert (problem.line, problem.column) == (1, 1)
        assert f"must be a YAML mapping with a `groups` section, not {kind}" in problem.message

    @pytest.mark.parametrize("key", ["url: redis://r1/0", "host: r1", "port: 6380"])
    def test_sentinel_and_an_address_are_not_both_allowed(self, tmp_path: Path, key: str) -> None:
        """The sentinels say where the primary is: an address beside them would be ignored, so it is an error."""
        found = problems(tmp_path, f"redis:\n  {key}\n  sentinel:\n    sentinels: [s:1]\n    master: m\n" + ROUTE)
        name = key.split(":", maxsplit=1)[0]
        assert [(p.path, p.line) for p in found] == [(f"redis.{name}", 2)], found
        assert f"`sentinel` finds the primary, so `{name}` would be ignored" in found[0].message

    def test_a_groups_redis_with_two_addresses_is_reported_at_the_group(self, tmp_path: Path) -> None:
        """A group's own `redis` is worded as the top-level one, at the group's key."""
        found = problems(tmp_path, TWO_GROUPS.replace("      url: redis://heavy:6379/1\n",
                                                      "      url: redis://heavy:6379/1\n      port: 1\n"))
        assert [p.path for p in found] == ["groups.heavy.redis.port"], found
        assert "`url` already says where Redis is" in found[0].message
