"""web/explorer.py: the explorer's form read into a search, and each message shown as text (keys, headers and
values from producers never become markup), with every route's steps, job and dead letter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reader_fakes import FakeReader
from redis_fakes import FakeRedis
from tables import make_record, make_table

from karafkad.ops.explorer import Explorer, Query
from karafkad.web.explorer import as_json, body, parse_query, text_of

HOSTILE_KEY = b"<script>alert(1)</script>"
HOSTILE_HEADER = b'<img src=x onerror="alert(2)">'
HOSTILE_VALUE = b'{"n": 1, "html": "</pre><script>alert(3)</script>"}'


class TestQuery:
    @pytest.mark.parametrize(("fields", "query"), [
        ({}, Query("t")),
        ({"topic": ["u"], "partition": ["1, 3"], "offset": ["7"], "contains": [" 4711 "], "limit": ["500"]},
         Query("u", (1, 3), 7, None, "4711", 100)),
        ({"time": ["2026-11-30T08:00:00Z"]}, Query("t", time_ms=1_796_025_600_000)),
    ])
    def test_the_fields_become_a_search(self, fields: dict[str, list[str]], query: Query) -> None:
        """The fields become a search."""
        assert parse_query(fields, ["t", "u"]) == query

    @pytest.mark.parametrize(("fields", "said"), [({"partition": ["x"]}, "partition 'x' is not a number"),
                                                  ({"offset": ["-1"]}, "offset '-1' is not a number"),
                                                  ({"time": ["yesterday"]}, "is not ISO 8601")])
    def test_fields_that_are_wrong_say_why(self, fields: dict[str, list[str]], said: str) -> None:
        """Fields that are wrong say why."""
        problem = parse_query(fields, ["t"])
        assert isinstance(problem, str) and said in problem


class TestText:
    def test_bytes_as_text_other_bytes_escaped(self) -> None:
        """Bytes as text other bytes escaped."""
        assert text_of(b"caf\xc3\xa9 \xff") == "café \\xff" and text_of(None) is None
        assert text_of(b"x" * 10, width=4) == "xxxx…"


class TestPage:
    def test_a_hostile_message_is_shown_as_text_everywhere(self, tmp_path: Path) -> None:
        """Script tags in the key, a header and the value: escaped on the page (never a tag), and \\u-escaped in
        the JSON; the route's steps and its job are shown."""
        table = make_table(tmp_path, {"g": {"routes": [{"name": "ok", "topic": "t", "handler": "h.handle"}]}})
        record = make_record(0, HOSTILE_VALUE, key=HOSTILE_KEY, headers=[("x-evil", HOSTILE_HEADER)])
        reader = FakeReader({"t": {0: [record]}})
        explorer = Explorer(lambda: table, lambda: reader, lambda _: FakeRedis())  # type: ignore[arg-type,return-value]
        found = explorer.explore(Query("t"))
        page = body(["t"], {"topic": ["t"]}, found.query, found, None)
        for hostile in (HOSTILE_KEY, HOSTILE_HEADER, b"<script>alert(3)"):
            assert hostile.decode() not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "alert(3)" in page
        assert 'data-outcome="enqueue"' in page and "decode (json)" in page
        assert "kd-" in page and "not made yet" in page
        data = json.dumps(as_json(found))
        assert json.loads(data)["messages"][0]["key"] == HOSTILE_KEY.decode()

    def test_a_problem_or_nothing_found_is_said(self) -> None:
        """A problem or nothing found is said."""
        assert "no such thing" in body(["t"], {}, None, None, "no such thing")
        assert "Choose a topic" in body(["t"], {}, Query("t"), None, None)
        assert "No route consumes a topic." in body([], {}, None, None, None)
