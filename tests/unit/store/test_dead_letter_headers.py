"""store/dead_letter_headers.py: the headers a dead letter carries, and reading them back (one format, both sides)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tables import make_record, make_table

from karafkad.pipeline.records import PlainRecord
from karafkad.pipeline.steps import Pipeline
from karafkad.store.dead_letter_headers import MAX_REASON, dead_letter_headers, parse


def _letters(tmp_path: Path, record: PlainRecord) -> list[Any]:
    table = make_table(tmp_path, {"g": {"routes": [
        {"name": "a", "topic": "t", "handler": "h.handle", "dead_letter": "d"},
        {"name": "b", "topic": "t", "handler": "h.handle", "dead_letter": "d"}]}})
    return Pipeline(table.groups["g"], 1000).process("t", 0, [record]).dead_letters


def _stored(letter: Any, offset: int = 9) -> PlainRecord:
    """The dead letter as the dead-letter topic "d" holds it, at `offset` (what the sender produces)."""
    record = letter.record
    return PlainRecord("d", 1, offset, record.value, record.key, tuple(dead_letter_headers(letter)),
                       1_700_000_999_000)


class TestHeaders:
    def test_original_headers_then_reason_and_origin(self, tmp_path: Path) -> None:
        """The original headers come first, then karafkad.* with the error, every route and the origin."""
        record = make_record(42, b"junk", partition=3, headers=[("trace", b"abc"), ("empty", None)])
        (letter,) = _letters(tmp_path, record)
        headers = dead_letter_headers(letter)
        assert headers[:2] == [("trace", b"abc"), ("empty", b"")]
        added = {k: v.decode() for k, v in headers[2:]}
        assert added["karafkad.error_kind"] == "decode"
        assert added["karafkad.error"].startswith("invalid JSON")
        assert added["karafkad.route"] == "a,b"
        assert (added["karafkad.original_topic"], added["karafkad.original_partition"],
                added["karafkad.original_offset"]) == ("t", "3", "42")

    def test_a_header_key_that_is_not_utf8_goes_out_escaped(self, tmp_path: Path) -> None:
        """kafka-python can only send UTF-8 keys: a junk key is kept as \\\\xNN text."""
        record = make_record(0, b"{}", headers=[(b"\xffk".decode("utf-8", "surrogateescape"), b"v")])
        (letter,) = _letters(tmp_path, record)
        assert letter.kind == "headers"
        assert dead_letter_headers(letter)[0] == ("\\xffk", b"v")

    def test_a_long_reason_is_cut_to_the_limit(self, tmp_path: Path) -> None:
        """A reason longer than MAX_REASON characters is cut there (a schema problem can quote a large value)."""
        (letter,) = _letters(tmp_path, make_record(0, b"junk"))
        letter.reason = "x" * (MAX_REASON + 10)
        added = dict(dead_letter_headers(letter))
        assert added["karafkad.error"] == b"x" * MAX_REASON


class TestParse:
    def test_what_the_writer_writes_the_parser_reads_back(self, tmp_path: Path) -> None:
        """Round trip: the group, the routes, why, where it is, and the original message with its own headers,
        key, value and place of origin."""
        record = make_record(42, b"junk", partition=3, key=b"k", headers=[("trace", b"abc")])
        (letter,) = _letters(tmp_path, record)
        stored = parse(_stored(letter))
        assert stored is not None
        assert (stored.group, stored.routes, stored.kind) == ("g", ("a", "b"), "decode")
        assert stored.reason == letter.reason
        assert (stored.where, stored.origin, stored.timestamp) == ("d[1]@9", "t[3]@42", 1_700_000_999_000)
        original = stored.original
        assert (original.value, original.key, original.headers) == (b"junk", b"k", (("trace", b"abc"),))
        assert original.timestamp == record.timestamp

    def test_an_escaped_header_key_comes_back_as_the_printable_text(self, tmp_path: Path) -> None:
        """A key that was not UTF-8 is read back as the \\\\xNN text it was written as, not as karafkad's."""
        record = make_record(0, b"{}", headers=[(b"\xffk".decode("utf-8", "surrogateescape"), b"v")])
        (letter,) = _letters(tmp_path, record)
        stored = parse(_stored(letter))
        assert stored is not None and stored.original.headers == (("\\xffk", b"v"),)

    def test_a_record_karafkad_did_not_write_is_none(self) -> None:
        """No karafkad headers, or a place of origin that is not a number: not a dead letter (None)."""
        assert parse(make_record(0, b"{}", headers=[("trace", b"abc")])) is None
        assert parse(make_record(0, b"{}", headers=[("karafkad.group", b"g"), ("karafkad.route", b"a"),
                                                    ("karafkad.original_topic", b"t"),
                                                    ("karafkad.original_partition", b"x"),
                                                    ("karafkad.original_offset", b"1")])) is None
