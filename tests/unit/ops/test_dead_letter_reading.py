"""ops/dead_letter_reading.py: dead letters read for a page (newest first, the list's filters, each route's
re-drive state), and read back by their places for a re-drive of a selection."""

from __future__ import annotations

from pathlib import Path

import pytest
from reader_fakes import FakeReader
from redis_fakes import RecordingRedis
from tables import make_record, make_table

from karafkad.ops.dead_letter_reading import browse, letters_at, parse_place, place_of
from karafkad.ops.dead_letters import Selection
from karafkad.pipeline.records import PlainRecord
from karafkad.routes.table import RouteTable


def letter(offset: int, origin: int, kind: str = "schema", route: str = "ok", value: bytes = b'{"n": 1}',
           partition: int = 0) -> PlainRecord:
    headers = [("karafkad.error", b"off schema"), ("karafkad.error_kind", kind.encode()),
               ("karafkad.route", route.encode()), ("karafkad.group", b"g"), ("karafkad.original_topic", b"t"),
               ("karafkad.original_partition", b"0"), ("karafkad.original_offset", str(origin).encode())]
    return make_record(offset, value, topic="t-dead", partition=partition, headers=headers)


@pytest.fixture
def table(tmp_path: Path) -> RouteTable:
    return make_table(tmp_path, {"g": {"routes": [
        {"name": "ok", "topic": "t", "handler": "h.handle", "dead_letter": "t-dead"}]}})


def reader() -> FakeReader:
    stranger = make_record(3, b"not ours", topic="t-dead")
    return FakeReader({"t-dead": {0: [letter(0, 10), letter(1, 11, kind="decode", value=b"junk"),
                                      letter(2, 12), stranger]}})


class TestPlaces:
    @pytest.mark.parametrize(("text", "place"), [("t-dead:0:17", ("t-dead", 0, 17)), ("t:1:x", None),
                                                 ("t:1", None), (":0:1", None), ("a.b_c-d:12:0 ", ("a.b_c-d", 12, 0))])
    def test_a_place_is_topic_partition_offset(self, text: str, place: tuple[str, int, int] | None) -> None:
        """A place is topic partition offset."""
        assert parse_place(text) == place

    def test_letters_are_read_back_at_their_places(self) -> None:
        """Two places of one partition are read in one span; a place with no dead letter says why."""
        found, missing = letters_at(reader(), [("t-dead", 0, 2), ("t-dead", 0, 0), ("t-dead", 0, 3),
                                               ("t-dead", 0, 9)])
        assert [place_of(f) for f in found] == ["t-dead:0:2", "t-dead:0:0"]
        assert missing == ["t-dead:0:3: not a dead letter karafkad wrote", "t-dead:0:9: no record there"]


class TestBrowse:
    def test_newest_first_with_each_routes_state(self, table: RouteTable) -> None:
        """The letters the selection chooses, newest first, each route's re-drive state (here: a re-drive
        passes, since the route has no schema now; the undecodable one fails again)."""
        page = browse(table, reader(), lambda _: RecordingRedis(), Selection())  # type: ignore[arg-type,return-value]
        assert [(place_of(f), state) for f, state in page.letters] == [
            ("t-dead:0:2", {"ok": "passes"}), ("t-dead:0:1", {"ok": "fails"}), ("t-dead:0:0", {"ok": "passes"})]
        assert (page.topics, page.missing, page.more) == (["t-dead"], [], False)

    def test_the_filters_of_dead_letters_list(self, table: RouteTable) -> None:
        """The filters of dead letters list."""
        page = browse(table, reader(), lambda _: RecordingRedis(), Selection(kinds=("decode",)))  # type: ignore
        assert [place_of(f) for f, _ in page.letters] == ["t-dead:0:1"]
        since = browse(table, reader(), lambda _: RecordingRedis(),  # type: ignore[arg-type,return-value]
                       Selection(since=1_700_000_000_002))
        assert [place_of(f) for f, _ in since.letters] == ["t-dead:0:2"]

    def test_more_than_the_page_shows_is_said(self, table: RouteTable) -> None:
        """More than the page shows is said."""
        page = browse(table, reader(), lambda _: RecordingRedis(), Selection(), limit=2)  # type: ignore
        assert len(page.letters) == 2 and page.more

    def test_a_topic_not_there_yet_and_a_redis_that_cannot_say(self, table: RouteTable) -> None:
        """A topic not there yet and a Redis that cannot say."""
        def down(_: object) -> RecordingRedis:
            raise ConnectionError("refused")

        page = browse(table, FakeReader({}), down, Selection())  # type: ignore[arg-type]
        assert page.missing == ["t-dead"] and page.letters == []
        page = browse(table, reader(), down, Selection())  # type: ignore[arg-type]
        assert page.unread == "ConnectionError: refused" and len(page.letters) == 3
