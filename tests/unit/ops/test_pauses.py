"""ops/pauses.py: which target the arguments name (or why none), what a pause stops in words, and the events list
noting who paused and resumed what."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis_fakes import FakeRedis
from tables import make_table

from karafkad.ops import pauses
from karafkad.routes.table import RouteTable
from karafkad.store import events
from karafkad.store.pauses import PauseTarget


@pytest.fixture
def table(tmp_path: Path) -> RouteTable:
    return make_table(tmp_path, {
        "shop": {"routes": [{"name": "orders", "topic": "o", "handler": "h.handle"},
                            {"name": "audit", "topics": ["o", "x"], "handler": "h.handle"}]},
        "ops": {"routes": [{"name": "orders", "topic": "x", "handler": "h.handle"}]}})


class TestTargets:
    def test_a_route_is_named_with_its_group_when_two_have_it(self, table: RouteTable) -> None:
        """A route is named with its group when two have it."""
        assert pauses.route_target(table, "audit") == PauseTarget("shop", route="audit")
        assert pauses.route_target(table, "orders", "ops") == PauseTarget("ops", route="orders")
        refused = pauses.route_target(table, "orders")
        assert isinstance(refused, pauses.Refused) and "groups ops, shop: name the group" in refused.reason

    def test_an_unknown_route_says_what_it_looks_like(self, table: RouteTable) -> None:
        """An unknown route says what it looks like."""
        refused = pauses.route_target(table, "ordres")
        assert isinstance(refused, pauses.Refused)
        assert "no route 'ordres' (did you mean 'orders'?)" in refused.reason and "audit, orders" in refused.reason

    def test_a_partition_of_a_topic_of_one_group(self, table: RouteTable) -> None:
        """A partition of a topic of one group."""
        assert pauses.partition_target(table, "o", 3) == PauseTarget("shop", topic="o", partition=3)
        assert isinstance(pauses.partition_target(table, "x", 0), pauses.Refused)  # two groups consume x
        assert pauses.partition_target(table, "x", 0, "ops") == PauseTarget("ops", topic="x", partition=0)
        unknown = pauses.partition_target(table, "oo", 0)
        assert isinstance(unknown, pauses.Refused) and "did you mean 'o'?" in unknown.reason
        assert isinstance(pauses.partition_target(table, "o", -1), pauses.Refused)

    def test_a_route_pause_says_which_other_routes_wait_too(self, table: RouteTable) -> None:
        """Kafka pauses partitions, not routes: the topics' other routes of the group stop as well."""
        assert pauses.reach(table, PauseTarget("shop", route="orders")) == (
            "topics o of group shop; routes audit of those topics wait too")
        assert pauses.reach(table, PauseTarget("shop", topic="o", partition=1)) == "partition o[1] of group shop"


class TestPauseAndResume:
    def test_each_is_noted_in_the_events_list_with_who(self, table: RouteTable) -> None:
        """Each is noted in the events list with who."""
        client = FakeRedis()
        target = PauseTarget("shop", route="audit")
        said = pauses.pause(client, table, target, "ops@host")  # type: ignore[arg-type]
        assert said.startswith("route audit (group shop) paused by ops@host: topics o, x")
        assert pauses.pause(client, table, target, "later") == (  # type: ignore[arg-type]
            "route audit (group shop) was already paused by ops@host")
        assert [p.who for p in pauses.paused(client)] == ["ops@host"]  # type: ignore[arg-type]
        assert pauses.resume(client, target, "bob") == (  # type: ignore[arg-type]
            "route audit (group shop) resumed by bob (paused by ops@host)")
        assert pauses.resume(client, target, "bob") == "route audit (group shop) was not paused"  # type: ignore
        noted = events.recent(client)  # type: ignore[arg-type]
        assert [(e["kind"], e["who"]) for e in noted] == [("resume", "bob"), ("pause", "ops@host")]
