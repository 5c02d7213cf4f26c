"""ops/explorer.py: a topic's messages read by partition and offset, time or text, each traced by the real
pipeline, with what the daemon did: the group's mark, the job's status in RQ, the dead letter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis
from reader_fakes import FakeReader
from redis_fakes import FakeRedis
from tables import make_record, make_table, records

from karafkad.ops.explorer import Explorer, Query
from karafkad.pipeline.records import PlainRecord
from karafkad.routes.jobs import job_id_prefix
from karafkad.routes.table import RouteTable
from karafkad.store.keys import job_key, mark_key

SCHEMA = {"type": "object", "required": ["n"]}


def dead_letter(offset: int, origin: int) -> PlainRecord:
    headers = [("karafkad.error", b"invalid JSON"), ("karafkad.error_kind", b"decode"), ("karafkad.route", b"ok"),
               ("karafkad.group", b"g"), ("karafkad.original_topic", b"t"), ("karafkad.original_partition", b"0"),
               ("karafkad.original_offset", str(origin).encode())]
    return make_record(offset, b"junk", topic="t-dead", headers=headers)


class World:
    """A routes file (group g: route ok, per message, dead letters to t-dead; route batched, a batch route),
    topic t (partition 0: n=1, junk, n=3; partition 1: n=4), its dead letter, and Redis: the group handled up to
    offset 1 of partition 0, the first message's job finished."""

    def __init__(self, tmp_path: Path) -> None:
        self.table: RouteTable = make_table(tmp_path, {"g": {"routes": [
            {"name": "ok", "topic": "t", "handler": "h.handle", "schema": SCHEMA, "dead_letter": "t-dead"},
            {"name": "batched", "topic": "t", "handler": "h.handle", "batch": True, "on_error": "skip"}]}})
        p0 = [*records([{"n": 1}]), make_record(1, b"junk"), *records([{"n": 3}], start=2)]
        self.reader = FakeReader({"t": {0: p0, 1: records([{"n": 4}], partition=1)},
                                  "t-dead": {0: [dead_letter(0, origin=1)]}})
        self.redis = FakeRedis()
        self.redis.strings[mark_key("g", "t", 0)] = b"1"
        self.first_job = f"{job_id_prefix('g', 't', 'ok')}-0-0"
        self.redis.hashes[job_key(self.first_job)] = {b"status": b"finished"}
        self.explorer = Explorer(lambda: self.table, lambda: self.reader, lambda _: self.redis)  # type: ignore

    def explore(self, **query: Any) -> Any:
        return self.explorer.explore(Query("t", **query))


def fates(found: Any) -> dict[int, dict[str, Any]]:
    return {m.record.offset: {r.explanation.route.name: (r.explanation.outcome, r.job_id, r.job_status,
                                                          r.dead_letter) for r in m.groups[0].routes}
            for m in found.messages}


class TestExplorer:
    def test_each_message_has_each_routes_decision_and_what_the_daemon_did(self, tmp_path: Path) -> None:
        """The job made (its RQ status), the dead letter found by its origin, not made yet past the mark; a batch
        route's job is not looked up by one message (it holds a batch)."""
        world = World(tmp_path)
        found = world.explore(partitions=(0,), offset=0)
        assert found.problem is None and found.unread == []
        assert [m.groups[0].handled for m in found.messages] == [True, True, False]
        shown = fates(found)
        assert shown[0]["ok"] == ("enqueue", world.first_job, "finished", None)
        assert shown[1]["ok"] == ("dead letter", None, None, "t-dead[0]@0")
        assert shown[2]["ok"][2] == "not made yet: the group has not handled this offset"
        batched = found.messages[0].groups[0].routes[1]
        assert batched.job_id is None and "batch" in batched.note
        assert [s.label for s in found.messages[1].groups[0].routes[0].explanation.steps] == ["decode (json)"]
        assert world.reader.closed

    def test_a_made_job_no_longer_in_redis_is_said_to_have_expired(self, tmp_path: Path) -> None:
        """A made job no longer in Redis is said to have expired."""
        world = World(tmp_path)
        del world.redis.hashes[job_key(world.first_job)]
        assert "expired" in fates(world.explore(partitions=(0,), offset=0))[0]["ok"][2]

    @pytest.mark.parametrize(("query", "offsets"), [
        ({}, [(0, 0), (0, 1), (0, 2), (1, 0)]),  # the latest of every partition
        ({"limit": 1}, [(0, 2)]),
        ({"offset": 2}, [(0, 2)]),  # partition 1 has nothing from offset 2 on
        ({"time_ms": 1_700_000_000_001, "partitions": (0,)}, [(0, 1), (0, 2)]),
        ({"contains": "nothing like it"}, []),
        ({"contains": "JUNK"}, [(0, 1)]),  # case does not matter
    ])
    def test_where_to_read_from(self, tmp_path: Path, query: dict[str, Any], offsets: list[tuple[int, int]]) -> None:
        """Where to read from."""
        found = World(tmp_path).explore(**query)
        assert [(m.record.partition, m.record.offset) for m in found.messages] == offsets

    def test_a_topic_no_route_consumes_or_that_does_not_exist(self, tmp_path: Path) -> None:
        """A topic no route consumes or that does not exist."""
        world = World(tmp_path)
        assert "no route" in world.explorer.explore(Query("elsewhere")).problem
        del world.reader.topics["t"]
        assert world.explore().problem == "topic 't' does not exist"

    def test_a_redis_that_does_not_answer_is_said_and_the_decisions_stay(self, tmp_path: Path) -> None:
        """A Redis that does not answer is said and the decisions stay."""
        world = World(tmp_path)
        world.redis.fail = redis.ConnectionError("refused")
        found = world.explore(partitions=(0,), offset=0)
        assert "ConnectionError: refused" in found.unread[0]
        assert fates(found)[0]["ok"][:2] == ("enqueue", world.first_job)
        assert found.messages[0].groups[0].handled is None

    def test_the_topics_are_those_the_routes_consume(self, tmp_path: Path) -> None:
        """The topics are those the routes consume."""
        assert World(tmp_path).explorer.topics() == ["t"]
