"""ops/dead_letter_states.py: what a re-drive would do now for each route of a dead letter (Redis faked)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from redis_fakes import RecordingRedis
from tables import make_record, make_table

from karafkad.ops.dead_letter_states import redriven_routes, route_states
from karafkad.routes.table import RouteTable
from karafkad.store.dead_letter_headers import StoredDeadLetter


def _table(tmp_path: Path) -> RouteTable:
    """Route a wants a `tag`, b takes anything, c keeps only even n (a filter): all on topic t."""
    return make_table(tmp_path, {"g": {"routes": [
        {"name": "a", "topic": "t", "handler": "h.handle", "dead_letter": "d",
         "schema": {"type": "object", "required": ["tag"]}},
        {"name": "b", "topic": "t", "handler": "h.handle", "dead_letter": "d"},
        {"name": "c", "topic": "t", "handler": "h.handle", "dead_letter": "d", "filter": "params.n % 2 == 0"}]}})


def _letter(offset: int, origin: int, routes: tuple[str, ...]) -> StoredDeadLetter:
    """A dead letter at d[0]@offset of the message t[0]@origin ({"n": origin}, no tag)."""
    return StoredDeadLetter("d", 0, offset, 1_700_000_000_000, "g", routes, "schema", "bad",
                            make_record(origin, json.dumps({"n": origin}).encode()))


def _connect(fields: set[tuple[str, str]]) -> Any:
    return lambda settings: RecordingRedis(fields)


class TestRedrivenRoutes:
    def test_the_marks_of_the_message_of_origin_say_which_routes_are_done(self, tmp_path: Path) -> None:
        """b's mark (by the message t[0]@7) makes b done for every dead letter of that message; a stays not done."""
        letters = [_letter(0, 7, ("a", "b")), _letter(5, 7, ("b",)), _letter(6, 8, ("a", "b"))]
        done = redriven_routes(_table(tmp_path), _connect({("karafkad:done:g:t:0:redrive:b", "7")}), letters)
        assert done == [{"b"}, {"b"}, set()]

    def test_an_earlier_versions_mark_counts_for_the_first_route(self, tmp_path: Path) -> None:
        """The mark by the dead letter's own place (d[0]@3) stands for its first route."""
        done = redriven_routes(_table(tmp_path), _connect({("karafkad:done:g:d:0:redrive", "3")}),
                               [_letter(3, 7, ("a", "b"))])
        assert done == [{"a"}]


class TestRouteStates:
    def test_each_route_says_its_own(self, tmp_path: Path) -> None:
        """a still fails its schema, b is done, c's filter now says no, x is no route of the file."""
        (state,) = route_states(_table(tmp_path), [_letter(0, 7, ("a", "b", "c", "x"))], [{"b"}])
        assert state == {"a": "fails", "b": "done", "c": "no job", "x": "gone"}

    def test_without_the_marks_a_passing_route_passes(self, tmp_path: Path) -> None:
        """Redis unread (None): nothing is known done; b, which takes anything, passes; c keeps even n."""
        (state,) = route_states(_table(tmp_path), [_letter(0, 8, ("b", "c"))], None)
        assert state == {"b": "passes", "c": "passes"}
